// The Store: what a status write's answer may and may not change (Store.refresh).
import { expect } from 'chai';
import type { KubeObject } from '../../operator/src/objects.ts';
import { Store } from '../../operator/src/store.ts';

const route = (resourceVersion: string, uid = 'uid-1', hostname = 'a.example.com'): KubeObject =>
  ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'team', uid, resourceVersion }, spec: { hostnames: [hostname] } }) as KubeObject;

describe('Store.refresh: copies from our own requests never outrun the watch', () => {
  it('takes a newer copy of the object it holds', () => {
    const store = new Store();
    store.upsert(route('100'));
    const before = store.version;
    expect(store.refresh(route('105'))).to.equal(true);
    expect(store.get('HTTPRoute', 'team', 'web')?.metadata.resourceVersion).to.equal('105');
    expect(store.version).to.equal(before + 1);
  });

  it('does not bring back an object deleted while the request was in flight', () => {
    const store = new Store();
    store.upsert(route('100'));
    store.remove('HTTPRoute', 'team', 'web'); // the watch's DELETED event
    const before = store.version;
    expect(store.refresh(route('101'))).to.equal(false);
    expect(store.get('HTTPRoute', 'team', 'web')).to.equal(undefined);
    expect(store.version).to.equal(before);
  });

  it('does not replace a newer copy the watch already delivered (no spec rollback)', () => {
    const store = new Store();
    store.upsert(route('120', 'uid-1', 'b.example.com'));
    expect(store.refresh(route('101', 'uid-1', 'a.example.com'))).to.equal(false);
    expect(store.refresh(route('120', 'uid-1', 'a.example.com'))).to.equal(false);
    expect(store.get('HTTPRoute', 'team', 'web')?.spec?.hostnames).to.deep.equal(['b.example.com']);
  });

  it('does not replace a re-created object of the same name (another uid)', () => {
    const store = new Store();
    store.upsert(route('130', 'uid-2'));
    expect(store.refresh(route('131', 'uid-1'))).to.equal(false);
    expect(store.get('HTTPRoute', 'team', 'web')?.metadata.uid).to.equal('uid-2');
  });

  it('compares resourceVersions as numbers, and orders nothing it cannot read', () => {
    const store = new Store();
    store.upsert(route('99'));
    expect(store.refresh(route('100'))).to.equal(true); // not as strings ("100" < "99")
    expect(store.refresh(route('opaque-200'))).to.equal(false);
    expect(store.refresh(route(''))).to.equal(false);
    expect(store.get('HTTPRoute', 'team', 'web')?.metadata.resourceVersion).to.equal('100');
  });
});

describe('Store change notices: our own status coming back is not a change of the graph', () => {
  const notices = (store: Store) => {
    const seen: boolean[] = [];
    store.onChange((statusOnly) => seen.push(statusOnly));
    return seen;
  };

  it('calls a status-only update of a route statusOnly, and keeps its place in the order of suspicion', () => {
    const store = new Store();
    store.upsert(route('100'));
    const changedAt = store.lastChanged('HTTPRoute/team/web');
    const seen = notices(store);
    store.upsert({ ...route('101'), status: { parents: [{ conditions: [{ type: 'Accepted', status: 'True' }] }] } } as KubeObject);
    expect(seen).to.deep.equal([true]);
    expect(store.lastChanged('HTTPRoute/team/web')).to.equal(changedAt);
    expect(store.get('HTTPRoute', 'team', 'web')?.status, 'the copy is stored all the same').to.have.property('parents');
  });

  it('calls a spec, label or new object change a change; and a Service\'s status too (the graph reads its load balancer)', () => {
    const store = new Store();
    store.upsert(route('100'));
    const seen = notices(store);
    store.upsert(route('101', 'uid-1', 'b.example.com'));
    store.upsert({ ...route('102', 'uid-1', 'b.example.com'), metadata: { ...route('102').metadata, labels: { a: '1' } } } as KubeObject);
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'team', resourceVersion: '1' }, spec: { ports: [] } } as unknown as KubeObject;
    store.upsert(svc);
    store.upsert({ ...svc, metadata: { ...svc.metadata, resourceVersion: '2' }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } } } as KubeObject);
    expect(seen).to.deep.equal([false, false, false, false]);
  });
});
