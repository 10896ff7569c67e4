// Command difffn is the small Lambda function that TestProcessAgreesWithRIE runs under AWS's
// Runtime Interface Emulator and under localrun.Process. Each invocation's {"do": …} picks one
// behaviour; the answer is the same whichever runtime serves it, so any difference is the
// runtime's.
//
// Environment:
//   - DIFFFN_STARTS: a file that gets one line per process start (how often init ran);
//   - DIFFFN_FAIL_INIT=1: exit during init, before lambda.Start, as a main.go does when its
//     configuration is missing.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Do    string `json:"do"`
	Value string `json:"value"`
	Size  int    `json:"size"`
}

type response struct {
	// Invocation counts the invocations this process has served, this one included: 1 means a
	// cold start.
	Invocation int               `json:"invocation"`
	Echo       string            `json:"echo,omitempty"`
	Padding    string            `json:"padding,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
}

// quotaError is a handler's own error type: aws-lambda-go reports its type name as errorType.
type quotaError struct{ used, limit int }

func (e *quotaError) Error() string { return fmt.Sprintf("quota exceeded: %d of %d", e.used, e.limit) }

var invocations int

func handle(ctx context.Context, req request) (response, error) {
	invocations++
	switch req.Do {
	case "echo":
		return response{Invocation: invocations, Echo: req.Value}, nil
	case "error":
		return response{}, errors.New("it went wrong")
	case "custom-error":
		return response{}, &quotaError{used: 11, limit: 10}
	case "panic":
		panic("function panicked")
	case "exit":
		os.Exit(3)
	case "hang":
		<-ctx.Done() // the runtime kills the process at the deadline
		select {}
	case "oversize":
		return response{Invocation: invocations, Padding: strings.Repeat("x", req.Size)}, nil
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return response{Invocation: invocations, Env: env}, nil
	}
	return response{}, fmt.Errorf("unknown action %q", req.Do)
}

func main() {
	if path := os.Getenv("DIFFFN_STARTS"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "difffn:", err)
			os.Exit(1)
		}
		_, _ = f.WriteString("start\n")
		_ = f.Close()
	}
	if os.Getenv("DIFFFN_FAIL_INIT") == "1" {
		fmt.Fprintln(os.Stderr, "difffn: init failed: configuration missing")
		os.Exit(2)
	}
	lambda.Start(handle)
}
