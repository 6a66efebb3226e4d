// Status merge rules: transition times, shared route parents, idempotence.
import { expect } from 'chai';
import type { Condition } from '../../operator/src/objects.ts';
import { mergeStatus, statusEqual, type DesiredStatus } from '../../operator/src/status/merge.ts';

const ours = 'waygate.dev/gateway-controller';
const other = 'example.com/other-controller';
const t0 = '2024-01-01T00:00:00Z';
const now = '2025-06-01T12:00:00Z';
const gw = { group: 'gateway.networking.k8s.io', kind: 'Gateway' };

const cond = (type: string, status: Condition['status'], extra: Partial<Condition> = {}): Condition => ({ type, status, reason: type, message: '', observedGeneration: 1, ...extra });
const parent = (name: string, controllerName: string, conditions: Condition[], ref: Record<string, unknown> = {}) => ({ parentRef: { ...gw, name, ...ref }, controllerName, conditions });

interface Case {
  name: string;
  current: Record<string, unknown> | undefined;
  desired: DesiredStatus;
  expected: Record<string, unknown>;
}

const cases: Case[] = [
  {
    name: 'Gateway: keeps lastTransitionTime while a condition keeps its status value',
    current: { conditions: [{ ...cond('Accepted', 'True', { reason: 'Old', observedGeneration: 1 }), lastTransitionTime: t0 }] },
    desired: { kind: 'Gateway', namespace: 'ns', name: 'gw', status: { conditions: [cond('Accepted', 'True', { observedGeneration: 2 })] } },
    expected: { conditions: [{ ...cond('Accepted', 'True', { observedGeneration: 2 }), lastTransitionTime: t0 }] },
  },
  {
    name: 'Gateway: sets lastTransitionTime to now when the status value changes, and for new conditions',
    current: { conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }] },
    desired: { kind: 'Gateway', namespace: 'ns', name: 'gw', status: { conditions: [cond('Accepted', 'False'), cond('Programmed', 'True')] } },
    expected: { conditions: [{ ...cond('Accepted', 'False'), lastTransitionTime: now }, { ...cond('Programmed', 'True'), lastTransitionTime: now }] },
  },
  {
    name: 'Gateway: the CRD default status (Unknown) is replaced, its time is not kept',
    current: { conditions: [{ type: 'Accepted', status: 'Unknown', reason: 'Pending', message: 'Waiting for controller', lastTransitionTime: '1970-01-01T00:00:00Z' }] },
    desired: { kind: 'Gateway', namespace: 'ns', name: 'gw', status: { conditions: [cond('Accepted', 'True')] } },
    expected: { conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: now }] },
  },
  {
    name: 'Gateway: listener conditions follow the same rule, matched by listener name; CRD defaults spelled out',
    current: {
      listeners: [
        { name: 'b', attachedRoutes: 0, supportedKinds: [], conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }] },
        { name: 'a', attachedRoutes: 1, supportedKinds: [], conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }, { ...cond('Programmed', 'False'), lastTransitionTime: t0 }] },
      ],
    },
    desired: {
      kind: 'Gateway', namespace: 'ns', name: 'gw',
      status: {
        addresses: [{ value: '10.0.0.1' }],
        listeners: [{ name: 'a', attachedRoutes: 2, supportedKinds: [{ kind: 'HTTPRoute' }], conditions: [cond('Accepted', 'True'), cond('Programmed', 'True')] }],
      },
    },
    expected: {
      addresses: [{ type: 'IPAddress', value: '10.0.0.1' }],
      listeners: [{
        name: 'a', attachedRoutes: 2, supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
        conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }, { ...cond('Programmed', 'True'), lastTransitionTime: now }],
      }],
    },
  },
  {
    // Conformance v1.7.0 GatewayPreserveForeignConditions; spec: "MUST NOT remove, change or update" another's condition type.
    name: 'Gateway: conditions of types we do not own are kept unchanged after ours; an owned type we no longer set disappears',
    current: {
      conditions: [
        { type: 'example.com/Foreign', status: 'True', reason: 'Seeded', message: 'theirs', observedGeneration: 1, lastTransitionTime: t0 },
        { ...cond('Accepted', 'True'), lastTransitionTime: t0 },
        { ...cond('ResolvedRefs', 'False'), lastTransitionTime: t0 },
        { type: 'Ready', status: 'Unknown', reason: 'Other', message: '', lastTransitionTime: t0 },
      ],
    },
    desired: { kind: 'Gateway', namespace: 'ns', name: 'gw', status: { conditions: [cond('Accepted', 'True', { observedGeneration: 2 }), cond('Programmed', 'True', { observedGeneration: 2 })] } },
    expected: {
      conditions: [
        { ...cond('Accepted', 'True', { observedGeneration: 2 }), lastTransitionTime: t0 },
        { ...cond('Programmed', 'True', { observedGeneration: 2 }), lastTransitionTime: now },
        { type: 'example.com/Foreign', status: 'True', reason: 'Seeded', message: 'theirs', observedGeneration: 1, lastTransitionTime: t0 },
        { type: 'Ready', status: 'Unknown', reason: 'Other', message: '', lastTransitionTime: t0 },
      ],
    },
  },
  {
    name: 'Gateway: a listener keeps the foreign conditions of the same listener name, not those of a listener that is gone',
    current: {
      listeners: [
        { name: 'http', attachedRoutes: 0, supportedKinds: [], conditions: [{ ...cond('Accepted', 'False'), lastTransitionTime: t0 }, { type: 'conformance.gateway.networking.k8s.io/StaleCondition', status: 'True', reason: 'Seeded', message: '', observedGeneration: 1, lastTransitionTime: t0 }] },
        { name: 'gone', attachedRoutes: 0, supportedKinds: [], conditions: [{ type: 'example.com/Foreign', status: 'True', reason: 'X', message: '', lastTransitionTime: t0 }] },
      ],
    },
    desired: { kind: 'Gateway', namespace: 'ns', name: 'gw', status: { listeners: [{ name: 'http', attachedRoutes: 1, supportedKinds: [{ kind: 'HTTPRoute' }], conditions: [cond('Accepted', 'True', { observedGeneration: 2 })] }] } },
    expected: {
      listeners: [{
        name: 'http', attachedRoutes: 1, supportedKinds: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }],
        conditions: [
          { ...cond('Accepted', 'True', { observedGeneration: 2 }), lastTransitionTime: now },
          { type: 'conformance.gateway.networking.k8s.io/StaleCondition', status: 'True', reason: 'Seeded', message: '', observedGeneration: 1, lastTransitionTime: t0 },
        ],
      }],
    },
  },
  {
    name: 'GatewayClass: foreign conditions kept as well',
    current: { conditions: [{ type: 'example.com/Foreign', status: 'False', reason: 'X', message: 'm', lastTransitionTime: t0 }, { ...cond('SupportedVersion', 'False'), lastTransitionTime: t0 }] },
    desired: { kind: 'GatewayClass', name: 'waygate', status: { conditions: [cond('Accepted', 'True')] } },
    expected: { conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: now }, { type: 'example.com/Foreign', status: 'False', reason: 'X', message: 'm', lastTransitionTime: t0 }] },
  },
  {
    name: 'HTTPRoute: keeps other controllers\' parents untouched and in place, replaces ours in place',
    current: {
      parents: [
        { ...parent('gw', ours, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }]) },
        { ...parent('theirs', other, [{ ...cond('Accepted', 'False'), lastTransitionTime: t0 }]), extra: 'kept' },
      ],
    },
    desired: { kind: 'HTTPRoute', namespace: 'ns', name: 'r', parents: [{ parentRef: { name: 'gw' }, controllerName: ours, conditions: [cond('Accepted', 'True'), cond('ResolvedRefs', 'False')] }] },
    expected: {
      parents: [
        parent('gw', ours, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }, { ...cond('ResolvedRefs', 'False'), lastTransitionTime: now }]),
        { ...parent('theirs', other, [{ ...cond('Accepted', 'False'), lastTransitionTime: t0 }]), extra: 'kept' },
      ],
    },
  },
  {
    name: 'HTTPRoute: drops our entry for a parent that is no longer referenced, keeps foreign entry for the same parent',
    current: {
      parents: [
        parent('gone', ours, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }]),
        parent('gone', other, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }]),
        parent('gw', ours, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }], { sectionName: 'http' }),
      ],
    },
    desired: { kind: 'HTTPRoute', namespace: 'ns', name: 'r', parents: [{ parentRef: { name: 'gw', sectionName: 'http' }, controllerName: ours, conditions: [cond('Accepted', 'True')] }] },
    expected: {
      parents: [
        parent('gone', other, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }]),
        parent('gw', ours, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }], { sectionName: 'http' }),
      ],
    },
  },
  {
    name: 'HTTPRoute: matches parentRefs with the route namespace and API defaults applied',
    current: { parents: [parent('gw', ours, [{ ...cond('Accepted', 'False'), lastTransitionTime: t0 }], { namespace: 'ns' })] },
    desired: { kind: 'HTTPRoute', namespace: 'ns', name: 'r', parents: [{ parentRef: { name: 'gw' }, controllerName: ours, conditions: [cond('Accepted', 'False')] }] },
    expected: { parents: [parent('gw', ours, [{ ...cond('Accepted', 'False'), lastTransitionTime: t0 }])] },
  },
  {
    name: 'HTTPRoute: no longer attached to us at all: only foreign entries remain; other status fields kept',
    current: { parents: [parent('theirs', other, []), parent('gw', ours, [])], somethingElse: 1 },
    desired: { kind: 'HTTPRoute', namespace: 'ns', name: 'r', parents: [] },
    expected: { parents: [parent('theirs', other, [])], somethingElse: 1 },
  },
  {
    name: 'HTTPRoute: new entries are appended, never beyond 32 parents',
    current: { parents: Array.from({ length: 31 }, (_, i) => parent(`f${i}`, other, [])) },
    desired: { kind: 'HTTPRoute', namespace: 'ns', name: 'r', parents: [1, 2, 3].map((i) => ({ parentRef: { name: `gw${i}` }, controllerName: ours, conditions: [] })) },
    expected: { parents: [...Array.from({ length: 31 }, (_, i) => parent(`f${i}`, other, [])), parent('gw1', ours, [])] },
  },
  {
    name: 'BackendTLSPolicy: ancestors follow the same rules as route parents',
    current: { ancestors: [{ ancestorRef: { ...gw, name: 'theirs' }, controllerName: other, conditions: [] }] },
    desired: { kind: 'BackendTLSPolicy', namespace: 'ns', name: 'p', ancestors: [{ ancestorRef: { name: 'gw' }, controllerName: ours, conditions: [cond('Accepted', 'True')] }] },
    expected: {
      ancestors: [
        { ancestorRef: { ...gw, name: 'theirs' }, controllerName: other, conditions: [] },
        { ancestorRef: { ...gw, name: 'gw' }, controllerName: ours, conditions: [{ ...cond('Accepted', 'True'), lastTransitionTime: now }] },
      ],
    },
  },
];

describe('status merge', () => {
  for (const c of cases) {
    it(c.name, () => {
      const merged = mergeStatus(c.current, c.desired, ours, now);
      expect(merged).to.deep.equal(c.expected);
      expect(statusEqual(merged, c.expected)).to.equal(true);
    });
  }

  for (const c of cases) {
    it(`is idempotent, so a second pass makes no write: ${c.name}`, () => {
      const once = mergeStatus(c.current, c.desired, ours, now);
      const later = '2030-01-01T00:00:00Z';
      const twice = mergeStatus(once, c.desired, ours, later);
      expect(twice).to.deep.equal(once);
      expect(statusEqual(once, twice)).to.equal(true);
    });
  }

  it('does not modify its inputs', () => {
    const current = { parents: [parent('gw', ours, [{ ...cond('Accepted', 'True'), lastTransitionTime: t0 }])] };
    const desired: DesiredStatus = { kind: 'HTTPRoute', namespace: 'ns', name: 'r', parents: [{ parentRef: { name: 'gw' }, controllerName: ours, conditions: [cond('Accepted', 'False')] }] };
    const before = structuredClone({ current, desired });
    mergeStatus(current, desired, ours, now);
    expect({ current, desired }).to.deep.equal(before);
  });
});

describe('statusEqual', () => {
  const table: Array<[string, unknown, unknown, boolean]> = [
    ['conditions in another order', { conditions: [{ type: 'A', status: 'True' }, { type: 'B', status: 'False' }] }, { conditions: [{ type: 'B', status: 'False' }, { type: 'A', status: 'True' }] }, true],
    ['listeners in another order', { listeners: [{ name: 'a', attachedRoutes: 1 }, { name: 'b', attachedRoutes: 0 }] }, { listeners: [{ name: 'b', attachedRoutes: 0 }, { name: 'a', attachedRoutes: 1 }] }, true],
    ['parents in another order', { parents: [parent('a', ours, []), parent('b', other, [])] }, { parents: [parent('b', other, []), parent('a', ours, [])] }, true],
    ['parents differing by sectionName', { parents: [parent('a', ours, [], { sectionName: 'x' })] }, { parents: [parent('a', ours, [], { sectionName: 'y' })] }, false],
    ['a changed condition status', { conditions: [{ type: 'A', status: 'True' }] }, { conditions: [{ type: 'A', status: 'False' }] }, false],
    ['a changed lastTransitionTime', { conditions: [{ type: 'A', status: 'True', lastTransitionTime: t0 }] }, { conditions: [{ type: 'A', status: 'True', lastTransitionTime: now }] }, false],
    ['missing status and empty parents', undefined, { parents: [] }, true],
    ['missing field and undefined', { a: 1, b: undefined }, { a: 1 }, true],
    ['a list that is not a map keeps its order', { addresses: [{ value: '1' }, { value: '2' }] }, { addresses: [{ value: '2' }, { value: '1' }] }, false],
    ['a condition more', { conditions: [{ type: 'A', status: 'True' }] }, { conditions: [{ type: 'A', status: 'True' }, { type: 'B', status: 'True' }] }, false],
  ];
  for (const [name, a, b, equal] of table) {
    it(`${equal ? 'equal' : 'different'}: ${name}`, () => {
      expect(statusEqual(a, b)).to.equal(equal);
      expect(statusEqual(b, a)).to.equal(equal);
    });
  }
});
