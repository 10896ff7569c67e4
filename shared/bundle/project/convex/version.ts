// Code generated from bundle.Version in shared/bundle/bundle.go; DO NOT EDIT.
// Bump the version there and run `go test ./shared/bundle -update`.

/** The schema version of this BYOD package. `functions:ping` answers it. */
export const SCHEMA_VERSION = 1;
