/**
 * The plan stage: from desired targets and live state to ordered stages,
 * pods in restart order, gates, patches and warnings. Pure: no I/O.
 *
 * This is the stage's public surface; the other modules of the folder are
 * its implementation.
 */
export { createPlan, planTarget, rolloutOrder, type PlanInput } from './plan.ts';
export { formatPlan, planFormats, planHeadline, planJson, planMarkdown, planText, type PlanFormat } from './format.ts';
export { liveStateFrom } from './live-state.ts';
export { podContainerImage, podReady } from './pods.ts';
export { diffObjects, lastAppliedAnnotation, normalize, type ObjectDiff } from './diff.ts';
export { compareVersions, parseVersion } from './versions-order.ts';
export { nextCronMatch, windowState, type WindowState } from './window.ts';
export { desiredVersions, imagesOf, redisComponent, tidbComponentImage, versionsOf, type ImageMap, type VersionMap } from './versions.ts';
export { forceUpgradeAnnotation } from './profiles/tidb.ts';
export { operatorSupports, redisNodeContainer, redisOperatorDeployment } from './profiles/redis-enterprise.ts';
export type {
  ChangeKind,
  DriveMode,
  LiveKind,
  LiveState,
  PatchOperation,
  Plan,
  PlanChange,
  PlanGate,
  PlanStage,
  PlanStep,
  PlanWarning,
  StageHold,
  TargetAction,
  TargetPlan,
  WarningCode,
} from './types.ts';
