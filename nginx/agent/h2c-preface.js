// njs (nginx's JavaScript, ES5 and a little more) for the stream block's h1/h2c fronts
// (operator/src/dataplane/grpc-front.ts): a plaintext port that carries both HTTP/1.1 and
// HTTP/2 with prior knowledge (gRPC clients). The first bytes of a connection decide:
// the HTTP/2 connection preface (RFC 9113 3.4) sets $wg_h2c to "1", anything else "0".
// It waits only while what arrived is still a prefix of the preface (at most 24 bytes);
// nothing is consumed, the proxy then forwards every byte.
var PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

function preread(s) {
  var seen = '';
  s.on('upload', function (data, flags) {
    seen += data;
    var n = Math.min(seen.length, PREFACE.length);
    var h2 = seen.substring(0, n) === PREFACE.substring(0, n);
    if (h2 && n < PREFACE.length && !flags.last) return; // a prefix of the preface: wait for more
    s.variables.wg_h2c = h2 && n === PREFACE.length ? '1' : '0';
    s.off('upload');
    s.done();
  });
}

export default { preread: preread };
