package wsgateway

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1764000000, 0)
	b := &bucket{limit: Throttle{RateLimit: 2, BurstLimit: 3}}
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true}, {0, true}, {0, true}, // the burst
		{0, false},                           // empty
		{250 * time.Millisecond, false},      // half a token
		{500 * time.Millisecond, true},       // one token after 0.5 s at 2/s
		{500 * time.Millisecond, false},      //
		{400 * time.Millisecond, false},      // the clock went back: nothing refilled
		{time.Hour, true}, {time.Hour, true}, // refilled to the burst, never beyond
		{time.Hour, true}, {time.Hour, false},
	}
	for i, st := range steps {
		if got := b.take(t0.Add(st.at)); got != st.want {
			t.Fatalf("step %d at +%s: take = %v, want %v", i, st.at, got, st.want)
		}
	}
}
