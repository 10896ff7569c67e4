// Package credentials is the KMS envelope of a user's deployment URL and deploy key.
//
// The app encrypts the JSON {"url","deployKey"} with KMS under the encryption context
// {"userId": …, "configId": …} and puts the base64 ciphertext in the deploy message; the deployer
// decrypts with the context taken from the same message. A ciphertext copied into another user's
// (or config's) message therefore fails to decrypt (ErrInvalid) and nothing is deployed.
//
// Invariants: the plaintext exists only in memory, as a Secret, whose String, Format, MarshalJSON
// and LogValue never show the deploy key; no function here logs.
package credentials
