// How the app signs a WebSocket token in TypeScript/JavaScript (docs/websocket.md shows the same
// code). The test runs this file with Node and verifies its output with the Go implementation.
// Usage: WSTOKEN_SECRET_HEX=… node sign.mjs <userId> <audience> <ttlSeconds> <nowSeconds>
import { createHmac } from "node:crypto";

export function signWebSocketToken(secret, userId, audience, ttlSeconds, nowSeconds) {
  const payload = Buffer.from(
    JSON.stringify({ sub: userId, aud: audience, iat: nowSeconds, exp: nowSeconds + ttlSeconds }),
  ).toString("base64url");
  const mac = createHmac("sha256", secret).update("byod-ws-v1." + payload).digest("base64url");
  return payload + "." + mac;
}

const [userId, audience, ttl, now] = process.argv.slice(2);
const secret = Buffer.from(process.env.WSTOKEN_SECRET_HEX, "hex");
process.stdout.write(signWebSocketToken(secret, userId, audience, Number(ttl), Number(now)));
