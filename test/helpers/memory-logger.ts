/** A pino logger at debug level writing JSON lines into memory, for tests that assert on logs (and that credentials never reach them). */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** One logged line, parsed. */
export type LogLine = { level: number; msg: string; [key: string]: unknown };

export function memoryLogger(): { logger: Logger; text: () => string; lines: () => LogLine[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  const text = (): string => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as LogLine),
  };
}
