// @dot-i/k8s-operator logs through its own four-method interface; ours is winston.
import type { Logger } from 'winston';
import type { OperatorLogger } from '@dot-i/k8s-operator';

export function operatorLogger(logger: Logger): OperatorLogger {
  const log = logger.child({ component: 'k8s-operator' });
  return {
    debug: (m) => log.debug(m),
    info: (m) => log.info(m),
    warn: (m) => log.warn(m),
    error: (m) => log.error(m),
  };
}
