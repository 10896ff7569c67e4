package localrun_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

// deadPID returns the pid of a process that was started, SIGKILLed and reaped, as `byod dev`
// is after a kill -9.
func deadPID(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed"
	return cmd.Process.Pid
}

func TestReadEndpoints(t *testing.T) {
	dead := deadPID(t)
	tests := []struct {
		name    string
		pid     int // written to the file; -1: no file at all
		wantErr error
		wantMsg string // PATH stands for the file
	}{
		{"live dev process", os.Getpid(), nil, ""},
		{"no file", -1, localrun.ErrNotRunning, "localrun: no local pipeline running (no PATH; start one with `byod dev`"},
		{"dev process killed", dead, localrun.ErrStale, fmt.Sprintf("localrun: no byod dev session is running (stale PATH from pid %d; start one with `byod dev`", dead)},
		{"file without a pid", 0, localrun.ErrStale, "localrun: no byod dev session is running (stale PATH from pid 0; start one with `byod dev`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dev.json")
			want := localrun.Endpoints{Page: "http://127.0.0.1:8080", QueueURL: "http://127.0.0.1:4566/q", PID: tt.pid}
			if tt.pid >= 0 {
				if err := localrun.WriteEndpoints(path, want); err != nil {
					t.Fatal(err)
				}
			}
			got, err := localrun.ReadEndpoints(path)
			if tt.wantErr == nil {
				if err != nil || got != want {
					t.Fatalf("ReadEndpoints = %+v, %v; want %+v", got, err, want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReadEndpoints error %v, want one wrapping %v", err, tt.wantErr)
			}
			if msg := strings.ReplaceAll(tt.wantMsg, "PATH", path); !strings.Contains(err.Error(), msg) {
				t.Errorf("error %q, want it to say %q", err, msg)
			}
			if got != (localrun.Endpoints{}) {
				t.Errorf("endpoints %+v returned with the error", got)
			}
		})
	}
}
