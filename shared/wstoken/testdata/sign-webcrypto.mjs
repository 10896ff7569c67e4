// The same signer with WebCrypto only (no node:crypto), for runtimes such as Convex's default one.
// docs/websocket.md shows this code; the test runs it with Node and verifies with Go.
// Usage: WSTOKEN_SECRET_HEX=… node sign-webcrypto.mjs <userId> <audience> <ttlSeconds> <nowSeconds>

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function signWebSocketToken(secret, userId, audience, ttlSeconds, nowSeconds) {
  const enc = new TextEncoder();
  const payload = base64url(
    enc.encode(JSON.stringify({ sub: userId, aud: audience, iat: nowSeconds, exp: nowSeconds + ttlSeconds })),
  );
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode("byod-ws-v1." + payload));
  return payload + "." + base64url(new Uint8Array(mac));
}

const [userId, audience, ttl, now] = process.argv.slice(2);
const hex = process.env.WSTOKEN_SECRET_HEX;
const secret = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
process.stdout.write(await signWebSocketToken(secret, userId, audience, Number(ttl), Number(now)));
