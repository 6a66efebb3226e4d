// The operator's leader election flags (node:util parseArgs options) and their meaning.
import { hostname } from 'node:os';
import type { Durations } from './lease.ts';

export const leaderElectionFlags = {
  'leader-election-namespace': { type: 'string' },
  'leader-election-id': { type: 'string', default: 'waygate' },
  'leader-election-identity': { type: 'string' },
  'leader-election-lease-duration': { type: 'string' },
  'leader-election-renew-deadline': { type: 'string' },
  'leader-election-retry-period': { type: 'string' },
  'no-leader-election': { type: 'boolean', default: false },
} as const;

export const leaderElectionUsage = `[--leader-election-namespace NS] [--leader-election-id NAME] [--leader-election-identity ID]
    [--leader-election-lease-duration 15s] [--leader-election-renew-deadline 10s] [--leader-election-retry-period 2s] [--no-leader-election]`;

export interface LeaderElectionFlagValues {
  'leader-election-namespace'?: string;
  'leader-election-id'?: string;
  'leader-election-identity'?: string;
  'leader-election-lease-duration'?: string;
  'leader-election-renew-deadline'?: string;
  'leader-election-retry-period'?: string;
  'no-leader-election'?: boolean;
}

/**
 * The election the flags ask for, or undefined with --no-leader-election (a single replica
 * that always leads). Namespace: the flag, else $POD_NAMESPACE, else 'default'; identity: the
 * flag, else $POD_NAME, else the host name.
 */
export function leaderElectionFromFlags(v: LeaderElectionFlagValues, env: NodeJS.ProcessEnv = process.env):
  { namespace: string; name: string; identity: string; durations: Partial<Durations> } | undefined {
  if (v['no-leader-election']) return undefined;
  const durations: Partial<Durations> = {};
  if (v['leader-election-lease-duration'] !== undefined) durations.leaseDurationMs = parseDuration(v['leader-election-lease-duration'], '--leader-election-lease-duration');
  if (v['leader-election-renew-deadline'] !== undefined) durations.renewDeadlineMs = parseDuration(v['leader-election-renew-deadline'], '--leader-election-renew-deadline');
  if (v['leader-election-retry-period'] !== undefined) durations.retryPeriodMs = parseDuration(v['leader-election-retry-period'], '--leader-election-retry-period');
  return {
    namespace: v['leader-election-namespace'] || env.POD_NAMESPACE || 'default',
    name: v['leader-election-id'] || 'waygate',
    identity: v['leader-election-identity'] || env.POD_NAME || hostname(),
    durations,
  };
}

/** "15s", "500ms", or bare seconds ("1.5"), in milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: expected a duration like 15s or 500ms, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : n * 1000;
}
