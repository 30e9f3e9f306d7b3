/**
 * Every scenario of the campaign, in the order of the brief's priorities
 * (issue 10): agent kills, leader kill, API faults, the Git server down,
 * the forge down, a superseding push, a flapping gate.
 */
import type { Scenario } from '../campaign.ts';
import { agentKillScenario } from './agent-kill.ts';
import { apiFaultsScenario } from './api-faults.ts';
import { flappingGateScenario } from './flapping-gate.ts';
import { forgeDownScenario } from './forge-down.ts';
import { gitDownScenario } from './git-down.ts';
import { leaderKillScenario } from './leader-kill.ts';
import { supersedeScenario } from './supersede.ts';

/** The campaign's scenarios, with their default run counts. */
export function scenarios(): Scenario[] {
  return [agentKillScenario('tidb'), agentKillScenario('redis'), leaderKillScenario(), apiFaultsScenario(), gitDownScenario(), forgeDownScenario(), supersedeScenario(), flappingGateScenario()];
}
