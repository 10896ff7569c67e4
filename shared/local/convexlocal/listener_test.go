package convexlocal_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal/convexlocaltest"
)

// farListener is a listener that claims an address outside the loopback network.
type farListener struct{ net.Listener }

func (farListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 3210} }

func TestUseListener(t *testing.T) {
	t.Run("serves the held listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s, err := convexlocal.New(convexlocal.Options{AdminKey: convexlocaltest.AdminKey(t, "held")})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UseListener(ln); err != nil {
			t.Fatal(err)
		}
		if want := "http://" + ln.Addr().String(); s.URL() != want {
			t.Errorf("URL %q, want %q", s.URL(), want)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve() }()
		resp, err := http.Get(s.URL() + "/instance_name")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "held" {
			t.Errorf("GET /instance_name = %d %q, want 200 held", resp.StatusCode, b)
		}
		if err := errors.Join(s.Close(), <-served); err != nil {
			t.Fatal(err)
		}
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			t.Error("the listener is still open after Close")
		}
	})

	refused := []struct {
		name    string
		setup   func(t *testing.T, s *convexlocal.Server, ln net.Listener) net.Listener
		wantErr string
	}{
		{"already listening", func(t *testing.T, s *convexlocal.Server, ln net.Listener) net.Listener {
			if err := s.Listen("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			return ln
		}, "already listening on http://127.0.0.1:"},
		{"not loopback", func(t *testing.T, s *convexlocal.Server, ln net.Listener) net.Listener {
			return farListener{ln}
		}, "192.0.2.1:3210: not a loopback address"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			s, err := convexlocal.New(convexlocal.Options{AdminKey: convexlocaltest.AdminKey(t, "local")})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.UseListener(tt.setup(t, s, ln)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("UseListener error %v, want one containing %q", err, tt.wantErr)
			}
			// The refused listener is still the caller's, open.
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatalf("the refused listener was closed: %v", err)
			}
			c.Close()
		})
	}
}
