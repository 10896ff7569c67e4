package localrun_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/byod-deployer/byod-deployer/shared/local/localrun"
)

// envHelperFunction makes the test binary run as a Lambda function (the re-exec helper
// process pattern of os/exec's tests): lambda.Start against the Runtime API that Process serves.
const envHelperFunction = "LOCALRUN_HELPER_FUNCTION"

// helperRequest tells the helper function what to do.
type helperRequest struct {
	Do string `json:"do"` // echo | error | panic | hang | exit
}

type helperResponse struct {
	RequestID   string `json:"requestId"`
	FunctionARN string `json:"functionArn"`
	HasDeadline bool   `json:"hasDeadline"`
	Env         string `json:"env"`
}

func runHelperFunction() {
	lambda.Start(func(ctx context.Context, req helperRequest) (helperResponse, error) {
		switch req.Do {
		case "error":
			return helperResponse{}, errors.New("it went wrong")
		case "panic":
			panic("helper panicked")
		case "hang":
			select {} // until the environment is killed
		case "exit":
			os.Exit(3)
		}
		lc, _ := lambdacontext.FromContext(ctx)
		_, hasDeadline := ctx.Deadline()
		return helperResponse{RequestID: lc.AwsRequestID, FunctionARN: lc.InvokedFunctionArn, HasDeadline: hasDeadline, Env: os.Getenv("HELPER_SETTING")}, nil
	})
	os.Exit(1)
}

func TestProcessRunsAFunctionThroughTheRuntimeAPI(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &localrun.Process{Name: "helper", Binary: self, Env: []string{envHelperFunction + "=1", "HELPER_SETTING=configured"}}
	t.Cleanup(func() { p.Close() })
	invoke := func(do string, timeout time.Duration) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-" + do, InvokedFunctionArn: "arn:aws:lambda:us-east-1:111122223333:function:helper"})
		return p.Invoke(ctx, []byte(`{"do":"`+do+`"}`))
	}
	cases := []struct {
		name    string
		do      string
		timeout time.Duration
		// wantErr is a substring of the error; empty means success.
		wantErr string
	}{
		{name: "response carries the invocation's context", do: "echo", timeout: time.Minute},
		{name: "handler error is a function error", do: "error", timeout: time.Minute, wantErr: "it went wrong"},
		{name: "works again after an error", do: "echo", timeout: time.Minute},
		{name: "panic is a function error", do: "panic", timeout: time.Minute, wantErr: "helper panicked"},
		{name: "cold start after the panic exited the process", do: "echo", timeout: time.Minute},
		{name: "a crash is reported with the runtime's exit", do: "exit", timeout: time.Minute, wantErr: "Runtime exited"},
		{name: "cold start after the crash", do: "echo", timeout: time.Minute},
		{name: "past the deadline the environment is killed", do: "hang", timeout: 2 * time.Second, wantErr: "Task timed out"},
		{name: "cold start after the time-out", do: "echo", timeout: time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := invoke(tc.do, tc.timeout)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Invoke(%s) = %s, %v; want an error containing %q", tc.do, out, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke(%s): %v", tc.do, err)
			}
			var got helperResponse
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			want := helperResponse{RequestID: "req-echo", FunctionARN: "arn:aws:lambda:us-east-1:111122223333:function:helper", HasDeadline: true, Env: "configured"}
			if got != want {
				t.Errorf("response = %+v, want %+v", got, want)
			}
		})
	}
	var fe *localrun.FunctionError
	if _, err := invoke("error", time.Minute); !errors.As(err, &fe) || fe.Type == "" {
		t.Errorf("handler error = %v, want a *FunctionError with its errorType", err)
	}
}
