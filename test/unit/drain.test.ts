// The draining-worker limits (nginx/agent/drain.ts): which old workers a reload ends, and
// the CLI's drain period and memory budget.
import { expect } from 'chai';
import { parseDrainTimeout, parseMemory, workersToEnd } from '../../nginx/agent/drain.ts';

const MiB = 1048576;
const workers = (...mib: number[]) => mib.map((m, i) => ({ pid: 100 + i, memory: m * MiB }));

describe('agent: draining workers', () => {
  it('ends the oldest workers beyond the count, keeping the newest', () => {
    expect(workersToEnd(workers(1, 1, 1, 1, 1), 3, 1024 * MiB)).to.deep.equal([100, 101]);
    expect(workersToEnd(workers(1, 1, 1), 3, 1024 * MiB)).to.deep.equal([]);
    expect(workersToEnd([], 3, 0)).to.deep.equal([]);
  });

  it('ends the oldest workers until the rest fit the memory budget', () => {
    // 150 + 120 + 120 + 100 = 490 MiB: ending the oldest (150) leaves 340 <= 400.
    expect(workersToEnd(workers(150, 120, 120, 100), 16, 400 * MiB)).to.deep.equal([100]);
    // A budget below the newest worker ends them all.
    expect(workersToEnd(workers(150, 120), 16, 50 * MiB)).to.deep.equal([100, 101]);
  });

  it('applies both limits: the count first, then memory', () => {
    expect(workersToEnd(workers(10, 10, 300, 300, 10), 4, 400 * MiB)).to.deep.equal([100, 101, 102]);
  });

  it('parses the drain period: ms, s, m, h between 1 s and 24 h', () => {
    expect(parseDrainTimeout('300s')).to.equal(300_000);
    expect(parseDrainTimeout('5m')).to.equal(300_000);
    expect(parseDrainTimeout('1h')).to.equal(3_600_000);
    expect(parseDrainTimeout('1500ms')).to.equal(1500);
    for (const bad of ['0s', '999ms', '25h', '5', '5 m', '-1s', '1.5m', '1d', '']) expect(parseDrainTimeout(bad), bad).to.equal(undefined);
  });

  it('parses the memory budget: Mi and Gi between 16Mi and 1024Gi', () => {
    expect(parseMemory('512Mi')).to.equal(512 * MiB);
    expect(parseMemory('2Gi')).to.equal(2048 * MiB);
    for (const bad of ['15Mi', '0Gi', '1025Gi', '512', '512M', '1.5Gi', 'Gi']) expect(parseMemory(bad), bad).to.equal(undefined);
  });
});

describe('agent metrics: workers', () => {
  it('exports serving and draining workers, their memory and the draining workers ended', async () => {
    const { createAgentMetrics } = await import('../../nginx/agent/metrics.ts');
    const m = createAgentMetrics({ served: () => '1', defaultMetrics: false, workers: () => ({ serving: 2, draining: 3, servingMemory: 10 * MiB, drainingMemory: 300 * MiB, ended: 4 }) });
    const text = await m.registry.metrics();
    expect(text).to.contain('waygate_nginx_workers{state="serving"} 2');
    expect(text).to.contain('waygate_nginx_workers{state="draining"} 3');
    expect(text).to.contain(`waygate_nginx_worker_memory_bytes{state="draining"} ${300 * MiB}`);
    expect(text).to.contain('waygate_nginx_draining_workers_ended_total 4');
  });
});
