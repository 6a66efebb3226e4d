// gRPC service and method names of GRPCRoute matches (spec: GRPCMethodMatch). Exact values
// become nginx location paths ("/service/method"), so they are checked here against the
// CRD's own patterns, whatever the API server let through: identifiers joined by dots for a
// service, one identifier for a method. Nothing else (no "/", "%", quotes or spaces) can
// reach nginx.conf from them.

/** The CRD's service pattern, `^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`. */
const SERVICE = /^\.?[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*$/;
/** The CRD's method pattern. */
const METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;
/** The CRD's maxLength for both. */
export const GRPC_NAME_MAX = 1024;

export function checkGrpcService(s: unknown): string | undefined {
  if (typeof s !== 'string' || s.length > GRPC_NAME_MAX || !SERVICE.test(s)) {
    return `${JSON.stringify(String(s))} is not a gRPC service name (identifiers of letters, digits and "_" joined by ".", at most ${GRPC_NAME_MAX} characters)`;
  }
}

export function checkGrpcMethod(m: unknown): string | undefined {
  if (typeof m !== 'string' || m.length > GRPC_NAME_MAX || !METHOD.test(m)) {
    return `${JSON.stringify(String(m))} is not a gRPC method name (letters, digits and "_", at most ${GRPC_NAME_MAX} characters)`;
  }
}
