package localrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/byod-deployer/byod-deployer/shared/local/standins"
)

// defaultTimeout is an invocation's deadline when a poller sets none (Lambda's maximum).
const defaultTimeout = 15 * time.Minute

// Function is a handler as Lambda runs it: behind its JSON boundary, with a name and a timeout.
type Function struct {
	// Name appears in the invoked function ARN and in logs.
	Name string
	// Handler is lambda.NewHandler(h.Handle) of the function's handler.
	Handler lambda.Handler
	// Timeout is each invocation's deadline; zero means 15 minutes.
	Timeout time.Duration
}

// ARN is the function ARN the handler sees as InvokedFunctionArn.
func (f Function) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", standins.Region, standins.AccountID, f.Name)
}

// invoke calls the handler once with payload, as the Lambda runtime does: a fresh request id in
// a lambdacontext, a deadline, and a panic turned into an error (the runtime reports it as a
// function error, which fails the whole batch).
func (f Function) invoke(ctx context.Context, payload []byte) (out []byte, requestID string, err error) {
	requestID = newRequestID()
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID, InvokedFunctionArn: f.ARN()})
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("localrun: %s panicked: %v", f.Name, r)
		}
	}()
	out, err = f.Handler.Invoke(ctx, payload)
	return out, requestID, err
}

// newRequestID returns a random UUID-shaped id, like Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// sleep waits for d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is the delay before retry n (1-based): 100 ms doubling to at most 5 s.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}
