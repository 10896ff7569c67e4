package obs

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultNamespace is the EMF namespace when METRICS_NAMESPACE is empty.
const DefaultNamespace = "ByodDeployer"

// Metric names and the failure dimension (see the package comment).
const (
	MetricStarted   = "DeploymentsStarted"
	MetricSucceeded = "DeploymentsSucceeded"
	MetricFailed    = "DeploymentsFailed"
	MetricDuration  = "DeploymentDuration"
	DimErrorClass   = "ErrorClass"
)

// Metrics writes EMF records. It is safe for concurrent use; each record is one Write.
type Metrics struct {
	w         io.Writer
	namespace string
	// Now stamps records; nil means time.Now. Tests set it.
	Now func() time.Time

	mu sync.Mutex
}

// NewMetrics writes EMF records to w (stdout in Lambda) under namespace ("" means
// DefaultNamespace).
func NewMetrics(w io.Writer, namespace string) *Metrics {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Metrics{w: w, namespace: namespace}
}

// DeploymentStarted counts a deploy that won its claim and is about to run.
func (m *Metrics) DeploymentStarted() error {
	return m.emit(map[string]any{MetricStarted: 1}, directive{nil, []metric{{MetricStarted, "Count"}}})
}

// DeploymentSucceeded counts a deployed outcome and records its duration.
func (m *Metrics) DeploymentSucceeded(d time.Duration) error {
	return m.emit(map[string]any{MetricSucceeded: 1, MetricDuration: ms(d)},
		directive{nil, []metric{{MetricSucceeded, "Count"}, {MetricDuration, "Milliseconds"}}})
}

// DeploymentFailed counts a failed outcome twice over, under its error class and in the total with
// no dimension (which the failure-rate alarm divides; alarms cannot sum a SEARCH), and, when the
// deploy ran
// (d > 0), records its duration. A request that failed before it ran (invalid message or
// credentials, dead-lettered) passes d <= 0 and records no duration, so it never pulls the
// duration percentiles towards zero.
func (m *Metrics) DeploymentFailed(errorClass string, d time.Duration) error {
	if errorClass == "" {
		errorClass = "unknown"
	}
	failed := directive{[][]string{{DimErrorClass}, {}}, []metric{{MetricFailed, "Count"}}}
	values := map[string]any{MetricFailed: 1, DimErrorClass: errorClass}
	if d <= 0 {
		return m.emit(values, failed)
	}
	values[MetricDuration] = ms(d)
	return m.emit(values, failed, directive{nil, []metric{{MetricDuration, "Milliseconds"}}})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// directive is one CloudWatchMetrics entry: its metrics are published once per dimension set
// (nil: once, with no dimension).
type directive struct {
	dimSets [][]string
	metrics []metric
}

// emit writes one EMF record: root members (values and dimension values) plus the _aws metadata.
// It returns the writer's error, wrapped.
func (m *Metrics) emit(values map[string]any, ds ...directive) error {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	type cwDirective struct {
		Namespace  string     `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []metric   `json:"Metrics"`
	}
	cw := make([]cwDirective, len(ds))
	for i, d := range ds {
		sets := d.dimSets
		if sets == nil {
			sets = [][]string{{}}
		}
		cw[i] = cwDirective{Namespace: m.namespace, Dimensions: sets, Metrics: d.metrics}
	}
	values["_aws"] = map[string]any{"Timestamp": now().UnixMilli(), "CloudWatchMetrics": cw}
	line, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("obs: metrics: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("obs: metrics: %w", err)
	}
	return nil
}
