// The environment's ceiling for the webhook benchmark: a bare node:https server
// that reads the body and answers a fixed admission response, with no express,
// no JSON parsing and no decision. Same TLS setup and startup log line as the
// webhook, so run.ts drives both the same way.
//   node bench/webhook/baseline.ts <cert-file> <key-file>
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';

const [certFile, keyFile] = process.argv.slice(2);
const answer = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response: { uid: 'b1d3c9e0-0000-4000-8000-000000000000', allowed: true },
});
const server = https.createServer(
  { cert: readFileSync(certFile!), key: readFileSync(keyFile!), minVersion: 'TLSv1.2' },
  (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  },
);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(
    JSON.stringify({ msg: 'baseline serving HTTPS', port, host: '127.0.0.1', tlsMinVersion: 'TLSv1.2' }) +
      '\n',
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
