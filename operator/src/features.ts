// What this implementation supports, by the conformance suite's feature names. The list
// lives in supported-features.json so that the conformance harness (Go) reads the same
// list the operator publishes in GatewayClass status.supportedFeatures.
import { readFileSync } from 'node:fs';

export const supportedFeatures: readonly string[] = JSON.parse(readFileSync(new URL('./supported-features.json', import.meta.url), 'utf8')).features;

export const defaultControllerName = 'waygate.dev/gateway-controller';
