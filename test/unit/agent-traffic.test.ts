// The agent's traffic log: datagram parsing (tag, escaping, upstream errors), the nginx
// directives, and the bounded per-route series.
import { expect } from 'chai';
import { parseTrafficDatagram, trafficLogDirectives, type TrafficRecord } from '../../nginx/agent/access-log.ts';
import { composeMainConfig } from '../../nginx/agent/config.ts';
import { agentNotReady } from '../../nginx/agent/observability.ts';
import { createAgentMetrics, OTHER_ROUTE, TrafficMetrics } from '../../nginx/agent/metrics.ts';

const tag = 'wg0123456789abcdef01234567';
const dgram = (body: string, t = tag) => `<190>Nov 28 10:00:00 ${t}: ${body}`;
const rec = (route: string, status = 200, seconds = 0.01, extra: Partial<TrafficRecord> = {}): TrafficRecord => ({ route, gateway: 'infra/gw', status, seconds, upstreamError: false, ...extra });

describe('agent traffic log: datagrams', () => {
  it('parses route, Gateway, status, request time and upstream errors', () => {
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t200\t0.013\t200'), tag)).to.deep.equal({ route: 'HTTPRoute/web/app', gateway: 'infra/gw', status: 200, seconds: 0.013, upstreamError: false });
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t502\t0.001\t502'), tag)?.upstreamError).to.equal(true);
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t200\t0.100\t504, 200'), tag)?.upstreamError).to.equal(true); // retried after a timeout
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t500\t0.001\t500'), tag)?.upstreamError).to.equal(false);
    expect(parseTrafficDatagram(dgram('\tinfra/gw\t404\t0.000\t'), tag)).to.include({ route: '', status: 404 });
  });

  it('refuses datagrams without the tag, with shifted fields or escaped values', () => {
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t200\t0.013\t200', 'wgforged'), tag)).to.equal(undefined);
    expect(parseTrafficDatagram(`HTTPRoute/web/app\tinfra/gw\t200\t0.013\t200 ${tag}: x`, tag)).to.equal(undefined);
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t200\t0.013'), tag)).to.equal(undefined);
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/a\\tb\tinfra/gw\t200\t0.013\t200'), tag)).to.equal(undefined);
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\tabc\t0.013\t200'), tag)).to.equal(undefined);
    expect(parseTrafficDatagram(dgram('HTTPRoute/web/app\tinfra/gw\t200\t-1\t200'), tag)).to.equal(undefined);
  });

  it('writes the directives after the rendered config, keeps them with access_log off, refuses a bad target', () => {
    const conf = composeMainConfig({ runDir: '/run/w', versionDir: '/var/lib/w/versions/3', version: '3', accessLog: false, trafficLog: { port: 40000, tag } });
    expect(conf).to.include(`access_log syslog:server=127.0.0.1:40000,tag=${tag},nohostname waygate_traffic;`);
    expect(conf).to.include("escape=json '$wg_route\\t$wg_gateway\\t$status\\t$request_time\\t$upstream_status'");
    expect(conf.slice(0, conf.indexOf('# Agent status'))).not.to.include('access_log off;'); // it would switch the traffic log off too
    expect(conf.indexOf('map "" $wg_route')).to.be.greaterThan(conf.indexOf('include /var/lib/w/versions/3/http.conf'));
    expect(composeMainConfig({ runDir: '/run/w', versionDir: undefined, version: '' })).not.to.include('waygate_traffic');
    expect(() => trafficLogDirectives({ port: 40000, tag: 'a b;' })).to.throw();
  });

  it('is ready only once nginx serves a version', () => {
    expect(agentNotReady(undefined)).to.have.length(1);
    expect(agentNotReady({ live: undefined })).to.have.length(1);
    expect(agentNotReady({ live: '4' })).to.deep.equal([]);
  });
});

describe('agent traffic log: series', () => {
  it('counts by status class, latency bucket and upstream error, labelled by route, namespace and Gateway', async () => {
    const m = createAgentMetrics({ served: () => '9', defaultMetrics: false });
    m.traffic.record(rec('HTTPRoute/web/app', 200, 0.004));
    m.traffic.record(rec('HTTPRoute/web/app', 201, 0.3));
    m.traffic.record(rec('HTTPRoute/web/app', 503, 0.02, { upstreamError: true }));
    m.verdict({ version: '9', hash: '', ok: true, reloaded: true, at: '', durationMs: 120, live: '9' });
    m.verdict({ version: '10', hash: '', ok: false, reloaded: false, at: '', durationMs: 80, live: '9' });
    const text = await m.registry.metrics();
    const l = 'kind="HTTPRoute",namespace="web",route="web/app",gateway="infra/gw"';
    expect(text).to.include(`waygate_http_requests_total{${l},code="2xx"} 2`);
    expect(text).to.include(`waygate_http_requests_total{${l},code="5xx"} 1`);
    expect(text).not.to.include('code="4xx"');
    expect(text).to.include(`waygate_http_request_duration_seconds_bucket{${l},le="0.005"} 1`);
    expect(text).to.include(`waygate_http_request_duration_seconds_bucket{${l},le="0.025"} 2`);
    expect(text).to.include(`waygate_http_request_duration_seconds_bucket{${l},le="0.25"} 2`);
    expect(text).to.include(`waygate_http_request_duration_seconds_bucket{${l},le="0.5"} 3`);
    expect(text).to.include(`waygate_http_request_duration_seconds_bucket{${l},le="+Inf"} 3`);
    expect(text).to.include(`waygate_http_request_duration_seconds_count{${l}} 3`);
    expect(text).to.include(`waygate_http_upstream_errors_total{${l}} 1`);
    expect(text).to.include('waygate_nginx_config_version 9');
    expect(text).to.include('waygate_nginx_reloads_total{result="ok"} 1');
    expect(text).to.include('waygate_nginx_reloads_total{result="failed"} 1');
    expect(text).to.include('waygate_nginx_reload_duration_seconds_count{result="ok"} 1');
  });

  it('drops series idle for longer than idleMs (deleted routes leave the registry)', () => {
    let now = 0;
    const t = new TrafficMetrics({ idleMs: 1000, now: () => now });
    t.record(rec('HTTPRoute/web/old'));
    now = 900;
    t.record(rec('HTTPRoute/web/new'));
    now = 1500;
    t.sweep();
    expect(t.size).to.equal(1);
    now = 2000;
    t.sweep();
    expect(t.size).to.equal(0);
  });

  it('caps the series: new pairs past maxSeries count as route _other', async () => {
    const m = createAgentMetrics({ served: () => undefined, defaultMetrics: false, traffic: { maxSeries: 3 } });
    for (let i = 0; i < 10; i++) m.traffic.record(rec(`HTTPRoute/web/r${i}`));
    m.traffic.record(rec('HTTPRoute/web/r0'));
    expect(m.traffic.size).to.equal(4); // 3 + the _other series
    const text = await m.registry.metrics();
    expect(text).to.include(`waygate_http_requests_total{kind="",namespace="",route="${OTHER_ROUTE}",gateway="${OTHER_ROUTE}",code="2xx"} 7`);
    expect(text).to.include('waygate_http_requests_total{kind="HTTPRoute",namespace="web",route="web/r0",gateway="infra/gw",code="2xx"} 2');
    expect(text).to.include('waygate_nginx_config_version 0');
  });
});
