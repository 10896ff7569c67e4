package convexlocal

import (
	"fmt"
	"net"
)

// UseListener is Listen with a listener the caller already holds, e.g. one whose port was
// reserved before the deployment was wanted, so that no other server could take the port in
// between. From then on the server owns ln: Serve serves it and Close closes it, as with Listen.
// It refuses a listener outside the loopback network unless Options.AllowNonLoopback is set, and
// fails when the server already listens; on an error ln is left open, to its caller.
func (s *Server) UseListener(ln net.Listener) error {
	addr := ln.Addr().String()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("convexlocal: use listener %s: %w", addr, err)
	}
	if !s.opts.AllowNonLoopback && !isLoopback(host) {
		return fmt.Errorf("convexlocal: use listener %s: not a loopback address (127.0.0.0/8 or ::1)", addr)
	}
	return s.adopt(ln, "use listener "+addr)
}
