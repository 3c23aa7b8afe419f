// Structured JSON logs (pino). Key material must never reach a log line: the
// redaction below is a backstop, the rule is not to log options objects.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level = process.env.HARK_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: 'hark-aggregator',
    level,
    base: { component: 'aggregator' },
    redact: {
      paths: ['*.key', '*.keyPem', '*.clientKey', '*.serverKey', '*.tls', 'tls', 'key'],
      censor: '[redacted]',
    },
  });
}

/** For library use and tests: a logger that writes nothing. */
export const silentLogger: Logger = pino({ level: 'silent' });
