package standins

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"

	kmsconfig "github.com/nsmithuk/local-kms/src/config"
	kmsdata "github.com/nsmithuk/local-kms/src/data"
	kmshandler "github.com/nsmithuk/local-kms/src/handler"
	"github.com/sirupsen/logrus"
)

// KMS is local-kms served from this process on a loopback port.
type KMS struct {
	// URL is the endpoint to give the KMS client as BaseEndpoint.
	URL string

	db  *kmsdata.Database
	srv *http.Server
}

// local-kms keeps its configuration in package globals, so one instance runs per process.
var (
	kmsMu      sync.Mutex
	kmsRunning bool
)

// ErrKMSRunning is returned by StartKMS while another instance is open in this process.
var ErrKMSRunning = errors.New("standins: local-kms already running in this process")

// StartKMS serves local-kms with its keys stored under dataDir (use a fresh temp dir).
// Only one instance may run per process at a time; a second call returns ErrKMSRunning.
func StartKMS(dataDir string) (*KMS, error) {
	kmsMu.Lock()
	defer kmsMu.Unlock()
	if kmsRunning {
		return nil, ErrKMSRunning
	}
	kmsconfig.AWSRegion, kmsconfig.AWSAccountId, kmsconfig.DatabasePath = Region, AccountID, dataDir
	db := kmsdata.NewDatabase(dataDir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("standins: kms: %w", err)
	}
	srv := &http.Server{Handler: kmsHandler(db)}
	go func() { _ = srv.Serve(l) }()
	kmsRunning = true
	return &KMS{URL: "http://" + l.Addr().String(), db: db, srv: srv}, nil
}

// Close stops the server and closes the key database.
func (k *KMS) Close() error {
	kmsMu.Lock()
	defer kmsMu.Unlock()
	err := k.srv.Close()
	k.db.Close()
	kmsRunning = false
	return err
}

// kmsHandler dispatches like local-kms's own HandleRequest (X-Amz-Target "TrentService.<Op>" to the
// request handler's method of that name), but with a silent logger: local-kms logs every call.
func kmsHandler(db *kmsdata.Database) http.Handler {
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h := kmshandler.NewRequestHandler(r, quiet, db)
		target := strings.Split(r.Header.Get("X-Amz-Target"), ".")
		if len(target) < 2 {
			http.Error(w, "missing X-Amz-Target", http.StatusBadRequest)
			return
		}
		method := reflect.ValueOf(h).MethodByName(target[1])
		if !method.IsValid() {
			http.Error(w, "operation not implemented: "+target[1], http.StatusNotImplemented)
			return
		}
		out := method.Call(nil)
		var resp kmshandler.Response
		ok := len(out) > 0
		if ok {
			resp, ok = out[0].Interface().(kmshandler.Response)
		}
		if !ok {
			http.Error(w, "local-kms: unexpected handler result", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(resp.Code)
		fmt.Fprint(w, resp.Body)
	})
}
