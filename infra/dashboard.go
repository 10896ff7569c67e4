package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// EMF metrics the functions emit (shared/obs) in METRICS_NAMESPACE. Started and succeeded carry
// no dimension; failed is published per ErrorClass and again as a total with no dimension, which
// the failure-rate alarm divides (alarms cannot aggregate a SEARCH); the duration (no dimension)
// is recorded on every deploy that ran.
const (
	MetricStarted        = "DeploymentsStarted"
	MetricSucceeded      = "DeploymentsSucceeded"
	MetricFailed         = "DeploymentsFailed"
	MetricDuration       = "DeploymentDuration" // milliseconds
	DimensionErrorClass  = "ErrorClass"
	FailureRateThreshold = 25 // percent of deploy requests that ended failed, over 15 minutes
)

// Alarm thresholds (docs/infra.md explains each alarm and what to do).
const (
	OldestMessageAlarmSeconds = 30 * 60
	IteratorAgeAlarmMillis    = 60 * 1000
)

// Dashboard holds the dashboard, the alarms and the topic they notify.
type Dashboard struct {
	Dashboard awscloudwatch.Dashboard
	Topic     awssns.Topic
	Alarms    map[string]awscloudwatch.Alarm
}

func newDashboard(stack awscdk.Stack, p StackProps, s *Stack) *Dashboard {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	emf := func(name, stat string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String(p.MetricsNamespace),
			MetricName: jsii.String(name),
			Statistic:  jsii.String(stat),
			Period:     five,
		})
	}
	f := s.Functions
	q := s.Queue

	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("byod-deployer alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	if p.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(p.AlarmEmail), nil))
	}
	d := &Dashboard{Topic: topic, Alarms: map[string]awscloudwatch.Alarm{}}
	alarm := func(id, what string, metric awscloudwatch.IMetric, threshold float64, periods int, op awscloudwatch.ComparisonOperator) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(what + " (docs/infra.md, \"Alarms\")"),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(periods)),
			ComparisonOperator: op,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		a.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
		d.Alarms[id] = a
	}
	gte := awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	gt := awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD

	// shared/obs publishes DeploymentsFailed both per ErrorClass and as a total with no
	// dimension; alarms cannot sum a SEARCH, so the rate divides the total. Every request that
	// ended failed counts, whether or not its deploy ran (an invalid message or a dead-lettered
	// request fails a user too). A term with no datapoint in a period would make the expression
	// missing there, so both are FILLed with 0; with no outcome at all there is no rate (missing,
	// not breaching).
	failureRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("IF(FILL(ok, 0) + FILL(failed, 0) > 0, 100 * FILL(failed, 0) / (FILL(ok, 0) + FILL(failed, 0)), 0)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"ok":     emf(MetricSucceeded, "Sum"),
			"failed": emf(MetricFailed, "Sum"),
		},
		Label:  jsii.String("failure rate %"),
		Period: awscdk.Duration_Minutes(jsii.Number(15)),
	})
	failedTotal := emf(MetricFailed, "Sum")
	// Lambda publishes a function's metrics only for periods it was active in: unfilled, one idle
	// function would make the sum missing (not breaching) and hide the others' throttles.
	throttleUsing := map[string]awscloudwatch.IMetric{}
	var terms []string
	for i, fn := range f.All() {
		id := fmt.Sprintf("t%d", i)
		throttleUsing[id] = fn.MetricThrottles(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five})
		terms = append(terms, "FILL("+id+", 0)")
	}
	expr := strings.Join(terms, " + ")
	throttles := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(expr), UsingMetrics: &throttleUsing, Label: jsii.String("throttles, all functions"), Period: five,
	})
	dlqDepth := q.DeadLetter.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: five})
	deadLettered := q.DeadLetter.MetricNumberOfMessagesReceived(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five})
	oldest := q.Deploy.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: five})
	iteratorAge := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("IteratorAge"),
		DimensionsMap: &map[string]*string{"FunctionName": f.Notifier.FunctionName()},
		Statistic:     jsii.String("Maximum"), Period: five,
	})
	notifierFailures := q.NotifierFailures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: five})

	alarm("DeadLetteredAlarm", "A deploy message exhausted its receives and went to the dead-letter queue", deadLettered, 1, 1, gte)
	alarm("DeadLetterDepthAlarm", "The dead-letter queue is not draining: the deadletter function is failing", dlqDepth, 1, 3, gte)
	alarm("FailureRateAlarm", fmt.Sprintf("More than %d%% of deploy requests ended failed in 15 minutes", FailureRateThreshold), failureRate, FailureRateThreshold, 1, gt)
	alarm("ThrottlesAlarm", "A function was throttled", throttles, 1, 1, gte)
	alarm("OldestMessageAlarm", "A deploy message has waited more than 30 minutes", oldest, OldestMessageAlarmSeconds, 1, gte)
	alarm("IteratorAgeAlarm", "The notifier is more than 1 minute behind the status stream", iteratorAge, IteratorAgeAlarmMillis, 3, gte)
	alarm("NotifierFailuresAlarm", "Status stream batches failed after all retries", notifierFailures, 1, 1, gte)

	perFunction := func(metric func(awslambda.Function, *awscloudwatch.MetricOptions) awscloudwatch.Metric) *[]awscloudwatch.IMetric {
		var out []awscloudwatch.IMetric
		for i, fn := range f.All() {
			out = append(out, metric(fn, &awscloudwatch.MetricOptions{
				Statistic: jsii.String("Sum"), Period: five, Label: jsii.String(FunctionNames[i]),
			}))
		}
		return &out
	}
	errorsBy := perFunction(awslambda.Function.MetricErrors)
	throttlesBy := perFunction(awslambda.Function.MetricThrottles)
	byClass := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s,%s} MetricName="%s"', 'Sum', 300)`, p.MetricsNamespace, DimensionErrorClass, MetricFailed)),
		Label:      jsii.String(""),
		Period:     five,
	})
	graph := func(title string, left *[]awscloudwatch.IMetric, right *[]awscloudwatch.IMetric) awscloudwatch.GraphWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: left, Right: right, Width: jsii.Number(12), Height: jsii.Number(6),
		})
	}
	metrics := func(m ...awscloudwatch.IMetric) *[]awscloudwatch.IMetric { return &m }
	labelled := func(m awscloudwatch.Metric, label string) awscloudwatch.IMetric {
		return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(label)})
	}

	d.Dashboard = awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(6)),
	})
	d.Dashboard.AddWidgets(
		graph("Deployments by outcome", metrics(
			labelled(emf(MetricStarted, "Sum"), "started"),
			labelled(emf(MetricSucceeded, "Sum"), "succeeded"),
			failedTotal,
		), nil),
		graph("Failed deployments by error class", metrics(byClass), nil),
	)
	d.Dashboard.AddWidgets(
		graph("Deploy duration (ms)", metrics(
			labelled(emf(MetricDuration, "p50"), "p50"),
			labelled(emf(MetricDuration, "p95"), "p95"),
		), nil),
		graph("Deploy queue", metrics(labelled(dlqDepth, "DLQ depth"), labelled(deadLettered, "dead-lettered")),
			metrics(labelled(oldest, "age of oldest message (s)"))),
	)
	d.Dashboard.AddWidgets(
		graph("Lambda errors", errorsBy, nil),
		graph("Lambda throttles", throttlesBy, nil),
	)
	d.Dashboard.AddWidgets(
		graph("Notifier iterator age (ms)", metrics(iteratorAge), metrics(labelled(notifierFailures, "failed stream batches"))),
		awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
			Title: jsii.String("Alarms"), Alarms: alarmList(d.Alarms), Width: jsii.Number(12), Height: jsii.Number(6),
		}),
	)
	return d
}

// alarmList returns the alarms in a stable (sorted by id) order.
func alarmList(alarms map[string]awscloudwatch.Alarm) *[]interfacesawscloudwatch.IAlarmRef {
	ids := make([]string, 0, len(alarms))
	for id := range alarms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]interfacesawscloudwatch.IAlarmRef, 0, len(ids))
	for _, id := range ids {
		out = append(out, alarms[id])
	}
	return &out
}
