// Package local is the root of everything that stands in for AWS or Convex, or runs the pipeline
// on one machine: the local Convex deployment (convexlocal), the AWS stand-ins (standins), the
// WebSocket gateway (wsgateway), the local Lambda runtime and pollers (localrun) and the lookup of
// the tools `make deps` installs (toolpath).
//
// Nothing under shared/local is ever linked into a Lambda function: the functions link only the
// packages directly under shared/. TestFunctionsNeverLinkLocal keeps it that way.
package local
