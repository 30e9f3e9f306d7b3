/**
 * Problems as people and machines read them: `file:line:col: message` lines
 * (what compilers print, so editors and terminals link them), GitHub
 * workflow annotations, and JSON.
 */
import type { LoadResult } from './load.ts';
import type { Problem } from './types.ts';

/** Output formats of `rollgate validate`. */
export const problemFormats = ['text', 'json', 'github'] as const;
/** One of {@link problemFormats}. */
export type ProblemFormat = (typeof problemFormats)[number];

/** Maps a repository path to the path shown to the user (e.g. prefixed with the directory given on the command line). */
export type DisplayPath = (file: string) => string;

// C0 controls but tab, DEL, C1 controls and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this escapes
const controls = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/gu;
const named: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\u001b': '\\e' };

/**
 * `text` with every control character written as an escape (`\n`, `\r`,
 * `\e`, `\u0007`…). File names and values in messages come from the
 * repository: a raw newline would start a second line that names no file (or
 * forges one), and an escape sequence would rewrite the user's terminal.
 */
export function escapeControls(text: string): string {
  return text.replace(controls, (ch) => named[ch] ?? `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/** One problem as `file:line:col: message`, always one line: control characters in the file name or message are escaped (see {@link escapeControls}). */
export function formatProblemLine(problem: Problem, display: DisplayPath = (f) => f): string {
  return `${escapeControls(display(problem.file))}:${problem.line}:${problem.column}: ${escapeControls(problem.message)}`;
}

// GitHub's workflow-command escaping: data escapes %, CR and LF; property values also `:` and `,`.
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One problem as a GitHub Actions `::error` annotation, shown on the pull request's diff at that line. */
export function formatGithubAnnotation(problem: Problem, display: DisplayPath = (f) => f): string {
  const props = [`file=${escapeProperty(display(problem.file))}`, `line=${problem.line}`, `col=${problem.column}`, `title=${escapeProperty(`rollgate validate (${problem.code})`)}`];
  return `::error ${props.join(',')}::${escapeData(problem.message)}`;
}

/** The JSON report of a load: validity, problems, clusters, and a summary of each target. */
export function validationReport(result: LoadResult, display: DisplayPath = (f) => f): unknown {
  return {
    valid: result.valid,
    problems: result.problems.map((p) => ({ file: p.file, path: display(p.file), line: p.line, column: p.column, code: p.code, message: p.message })),
    clusters: result.clusters,
    targets: result.targets.map((t) => ({
      id: t.id,
      kind: t.kind,
      cluster: t.cluster,
      namespace: t.namespace,
      name: t.name,
      source: t.source.type,
      file: t.position.file,
      line: t.position.line,
      column: t.position.column,
    })),
  };
}
