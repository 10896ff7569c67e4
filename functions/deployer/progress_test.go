package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

type writes struct {
	mu  sync.Mutex
	got []status.Progress
}

func (w *writes) write(p status.Progress) { w.mu.Lock(); w.got = append(w.got, p); w.mu.Unlock() }

func (w *writes) all() []status.Progress {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// waitFor polls until cond holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling, not synchronising
	}
}

func TestProgressWriter(t *testing.T) {
	const interval = 50 * time.Millisecond
	tests := []struct {
		name   string
		events []deploy.Event
		// last is the line that must eventually be written; maxExtra bounds the writes beyond
		// one per stage change (plus one per interval elapsed, measured).
		last     status.Progress
		stages   []string
		maxExtra int
	}{
		{
			name:   "every stage change is written in order",
			events: []deploy.Event{{Stage: "validating", Message: "a"}, {Stage: "preflight", Message: "b"}, {Stage: "pushing", Message: "c"}},
			last:   status.Progress{Stage: "pushing", Message: "c"}, stages: []string{"validating", "preflight", "pushing"},
		},
		{
			name: "a burst within a stage is coalesced and its last line flushed",
			events: func() []deploy.Event {
				evs := []deploy.Event{{Stage: "pushing", Message: "uploading"}}
				for i := 1; i <= 500; i++ {
					evs = append(evs, deploy.Event{Stage: "indexing", Message: "backfilling", Done: i, Total: 500})
				}
				return evs
			}(),
			last:   status.Progress{Stage: "indexing", Message: "backfilling (500/500)"},
			stages: []string{"pushing", "indexing"}, maxExtra: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w writes
			pw := newProgressWriter(interval, w.write)
			start := time.Now()
			for _, ev := range tt.events {
				pw.event(ev)
			}
			elapsed := time.Since(start)
			waitFor(t, "the last line", func() bool {
				got := w.all()
				return len(got) > 0 && got[len(got)-1] == tt.last
			})
			if st := pw.stop(); st != tt.last.Stage {
				t.Errorf("stop() = %q, want %q", st, tt.last.Stage)
			}
			got := w.all()
			var stages []string
			for _, p := range got {
				if len(stages) == 0 || stages[len(stages)-1] != string(p.Stage) {
					stages = append(stages, string(p.Stage))
				}
			}
			if !slices.Equal(stages, tt.stages) {
				t.Errorf("stages %v, want %v", stages, tt.stages)
			}
			if limit := len(tt.stages) + tt.maxExtra + int(elapsed/interval) + 1; len(got) > limit {
				t.Errorf("%d writes, want at most %d: %v", len(got), limit, fmt.Sprint(got))
			}
		})
	}
}

func TestProgressWriterStopDropsPending(t *testing.T) {
	var w writes
	pw := newProgressWriter(time.Hour, w.write)
	pw.event(deploy.Event{Stage: "indexing", Message: "1"})
	pw.event(deploy.Event{Stage: "indexing", Message: "2"}) // within the interval: pending
	pw.stop()
	pw.event(deploy.Event{Stage: "verifying", Message: "after stop"})
	if got := w.all(); len(got) != 1 || got[0].Message != "1" {
		t.Fatalf("writes %v, want only the first line", got)
	}
	if pw.pending != nil || pw.timer != nil {
		t.Fatalf("stop left a pending line or a timer")
	}
}
