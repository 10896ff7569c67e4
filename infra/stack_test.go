package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/byod-deployer/byod-deployer/shared/settings"
)

func TestQueueRedriveAndVisibility(t *testing.T) {
	s := defaultStack(t)
	queues := s.resources("AWS::SQS::Queue")
	deploy := props(queues[s.id(s.stack.Queue.Deploy)])
	dlq := props(queues[s.id(s.stack.Queue.DeadLetter)])
	deployer := props(s.resources("AWS::Lambda::Function")[s.id(s.stack.Functions.Deployer)])
	if deploy == nil || dlq == nil || deployer == nil {
		t.Fatalf("missing deploy queue, DLQ or deployer in the template")
	}

	for name, q := range map[string]map[string]any{"deploy queue": deploy, "dead-letter queue": dlq} {
		if q["FifoQueue"] != true {
			t.Errorf("%s: FifoQueue = %v, want true", name, q["FifoQueue"])
		}
		if q["ContentBasedDeduplication"] != false {
			t.Errorf("%s: ContentBasedDeduplication = %v, want false (MessageDeduplicationId = requestId)", name, q["ContentBasedDeduplication"])
		}
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("%s: SqsManagedSseEnabled = %v, want true", name, q["SqsManagedSseEnabled"])
		}
	}
	redrive, _ := deploy["RedrivePolicy"].(map[string]any)
	if !ref(redrive["deadLetterTargetArn"], s.id(s.stack.Queue.DeadLetter)) || redrive["maxReceiveCount"] != float64(MaxReceiveCount) {
		t.Errorf("RedrivePolicy = %s, want the DLQ after %d receives", js(redrive), MaxReceiveCount)
	}
	// Issue 5: the visibility timeout is at least 6 times the deployer's timeout, both as the
	// template has them (not the code's own constants, which could drift together).
	const minRatio = 6
	visibility, _ := deploy["VisibilityTimeout"].(float64)
	timeout, _ := deployer["Timeout"].(float64)
	if timeout == 0 || visibility < minRatio*timeout {
		t.Errorf("visibility timeout %vs < %d x deployer timeout %vs", visibility, minRatio, timeout)
	}
	// The redriven message still needs the DLQ's own consumer to fit its visibility timeout.
	deadletter := props(s.resources("AWS::Lambda::Function")[s.id(s.stack.Functions.DeadLetter)])
	if dlqTimeout, _ := deadletter["Timeout"].(float64); dlqTimeout == 0 || dlq["VisibilityTimeout"].(float64) < minRatio*dlqTimeout {
		t.Errorf("DLQ visibility %v < %d x deadletter timeout %v", dlq["VisibilityTimeout"], minRatio, deadletter["Timeout"])
	}
	// Every queue refuses plain HTTP.
	must(t, "deploy queue enforces TLS", func() {
		s.template.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
			"Queues": assertions.Match_ArrayWith(&[]any{map[string]any{"Ref": s.id(s.stack.Queue.Deploy)}}),
			"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			})})},
		})
	})
}

func TestDeployerFunction(t *testing.T) {
	s := defaultStack(t)
	fn := props(s.resources("AWS::Lambda::Function")[s.id(s.stack.Functions.Deployer)])
	want := map[string]any{
		"PackageType":                  "Image",
		"Architectures":                []any{"arm64"},
		"MemorySize":                   float64(DeployerMemoryMB),
		"EphemeralStorage":             map[string]any{"Size": float64(DeployerEphemeralMB)},
		"Timeout":                      float64(DeployerTimeoutMinutes * 60),
		"ReservedConcurrentExecutions": float64(DefaultReservedConcurrency),
	}
	for k, v := range want {
		if js(fn[k]) != js(v) {
			t.Errorf("deployer %s = %s, want %s", k, js(fn[k]), js(v))
		}
	}
}

func TestZipFunctions(t *testing.T) {
	s := defaultStack(t)
	fns := s.resources("AWS::Lambda::Function")
	for i, name := range FunctionNames[1:] {
		fn := s.stack.Functions.All()[i+1]
		t.Run(name, func(t *testing.T) {
			p := props(fns[s.id(fn)])
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || js(p["Architectures"]) != `["arm64"]` {
				t.Errorf("%s: runtime %v handler %v arch %v, want provided.al2023, bootstrap, arm64",
					name, p["Runtime"], p["Handler"], p["Architectures"])
			}
		})
	}
}

// TestFunctionEnvironmentIsDeclared: every function gets exactly the variables shared/settings
// declares for it (all but the local-mode-only ones), and the environment the template holds
// parses as the function parses it.
func TestFunctionEnvironmentIsDeclared(t *testing.T) {
	s := defaultStack(t)
	declared := settings.Vars()
	if got := slices.Sorted(maps.Keys(declared)); !slices.Equal(got, slices.Sorted(slices.Values(FunctionNames))) {
		t.Fatalf("shared/settings declares functions %v, the stack has %v", got, FunctionNames)
	}
	parse := map[string]func(func(string) string) error{
		"deployer":   func(g func(string) string) error { _, err := settings.ParseDeployer(g); return err },
		"notifier":   func(g func(string) string) error { _, err := settings.ParseNotifier(g); return err },
		"wsconnect":  func(g func(string) string) error { _, err := settings.ParseWSConnect(g); return err },
		"deadletter": func(g func(string) string) error { _, err := settings.ParseDeadLetter(g); return err },
	}
	fns := s.resources("AWS::Lambda::Function")
	for i, name := range FunctionNames {
		t.Run(name, func(t *testing.T) {
			var want []string
			for _, v := range declared[name] {
				if !v.LocalOnly {
					want = append(want, v.Name)
				}
			}
			slices.Sort(want)
			vars, _ := props(fns[s.id(s.stack.Functions.All()[i])])["Environment"].(map[string]any)["Variables"].(map[string]any)
			got := slices.Sorted(maps.Keys(vars))
			if !slices.Equal(got, want) {
				t.Errorf("%s environment = %v, want exactly %v (shared/settings)", name, got, want)
			}
			// A Ref or Fn::GetAtt resolves to a non-empty string at deploy time.
			getenv := func(k string) string {
				if v, ok := vars[k].(string); ok {
					return v
				}
				if vars[k] != nil {
					return "resolved-at-deploy"
				}
				return ""
			}
			if err := parse[name](getenv); err != nil {
				t.Errorf("the template's environment does not parse: %v", err)
			}
		})
	}
	deployerEnv := props(fns[s.id(s.stack.Functions.Deployer)])["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, want := range map[string]string{
		"DEPLOY_TIMEOUT": "5m", "LEASE_DURATION": "7m",
		"CONVEX_CLI_NODE_MODULES": "/opt/convex/node_modules", "NODE_BINARY": "/opt/node/bin/node",
		"NODE_COMPILE_CACHE_DIR": "/tmp/byod-node-compile-cache", "SELF_HOSTED_HOSTS": "",
		"LOG_LEVEL": "info", "METRICS_NAMESPACE": "ByodDeployer",
	} {
		if deployerEnv[k] != want {
			t.Errorf("deployer %s = %v, want %q", k, deployerEnv[k], want)
		}
	}
	notifierEnv := props(fns[s.id(s.stack.Functions.Notifier)])["Environment"].(map[string]any)["Variables"].(map[string]any)
	if !strings.Contains(js(notifierEnv["WEBSOCKET_ENDPOINT"]), "https://") || !strings.Contains(js(notifierEnv["WEBSOCKET_ENDPOINT"]), "/"+StageName) {
		t.Errorf("notifier WEBSOCKET_ENDPOINT = %s, want https://{api}.execute-api.{region}.amazonaws.com/%s", js(notifierEnv["WEBSOCKET_ENDPOINT"]), StageName)
	}
}

func TestTables(t *testing.T) {
	s := defaultStack(t)
	tables := s.resources("AWS::DynamoDB::Table")
	cases := []struct {
		name   string
		id     string
		keys   string
		stream bool
		gsis   string
	}{
		{"status", s.id(s.stack.Tables.Status), `[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}]`, true, `null`},
		{"connections", s.id(s.stack.Tables.Connections), `[{"AttributeName":"userId","KeyType":"HASH"},{"AttributeName":"connectionId","KeyType":"RANGE"}]`, false,
			`[{"IndexName":"byConnection","KeySchema":[{"AttributeName":"connectionId","KeyType":"HASH"}],"Projection":{"NonKeyAttributes":["expiresAt"],"ProjectionType":"INCLUDE"}}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := props(tables[tc.id])
			if js(p["KeySchema"]) != tc.keys {
				t.Errorf("KeySchema = %s, want %s", js(p["KeySchema"]), tc.keys)
			}
			if js(p["GlobalSecondaryIndexes"]) != tc.gsis {
				t.Errorf("GlobalSecondaryIndexes = %s, want %s", js(p["GlobalSecondaryIndexes"]), tc.gsis)
			}
			if p["BillingMode"] != "PAY_PER_REQUEST" {
				t.Errorf("BillingMode = %v, want on-demand", p["BillingMode"])
			}
			if js(p["PointInTimeRecoverySpecification"]) != `{"PointInTimeRecoveryEnabled":true}` {
				t.Errorf("PITR = %s, want enabled", js(p["PointInTimeRecoverySpecification"]))
			}
			if js(p["TimeToLiveSpecification"]) != `{"AttributeName":"expiresAt","Enabled":true}` {
				t.Errorf("TTL = %s, want expiresAt enabled", js(p["TimeToLiveSpecification"]))
			}
			gotStream := js(p["StreamSpecification"])
			if tc.stream && gotStream != `{"StreamViewType":"NEW_AND_OLD_IMAGES"}` {
				t.Errorf("stream = %s, want NEW_AND_OLD_IMAGES", gotStream)
			}
			if !tc.stream && p["StreamSpecification"] != nil {
				t.Errorf("stream = %s, want none", gotStream)
			}
		})
	}
}

func TestEventSources(t *testing.T) {
	s := defaultStack(t)
	getAtt := func(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }
	batchItemFailures := []any{"ReportBatchItemFailures"}
	cases := []struct {
		name string
		want map[string]any
	}{
		{"deployer from the deploy queue, one message at a time, capped below reserved concurrency", map[string]any{
			"FunctionName":          map[string]any{"Ref": s.id(s.stack.Functions.Deployer)},
			"EventSourceArn":        getAtt(s.id(s.stack.Queue.Deploy), "Arn"),
			"BatchSize":             1,
			"FunctionResponseTypes": batchItemFailures,
			"ScalingConfig":         map[string]any{"MaximumConcurrency": DefaultMaxConcurrency},
		}},
		{"notifier from the status stream with retries, bisect and an on-failure queue", map[string]any{
			"FunctionName":               map[string]any{"Ref": s.id(s.stack.Functions.Notifier)},
			"EventSourceArn":             getAtt(s.id(s.stack.Tables.Status), "StreamArn"),
			"StartingPosition":           "LATEST",
			"MaximumRetryAttempts":       3,
			"BisectBatchOnFunctionError": true,
			"FunctionResponseTypes":      batchItemFailures,
			"DestinationConfig": map[string]any{"OnFailure": map[string]any{
				"Destination": getAtt(s.id(s.stack.Queue.NotifierFailures), "Arn"),
			}},
		}},
		{"deadletter from the DLQ", map[string]any{
			"FunctionName":          map[string]any{"Ref": s.id(s.stack.Functions.DeadLetter)},
			"EventSourceArn":        getAtt(s.id(s.stack.Queue.DeadLetter), "Arn"),
			"FunctionResponseTypes": batchItemFailures,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			must(t, tc.name, func() {
				s.template.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), tc.want)
			})
		})
	}
}

// statement is one IAM statement of an identity policy (an AWS::IAM::Policy, or a role's
// inline policy), with the roles it is attached to.
type statement struct {
	policy    string
	roles     []string
	actions   []string
	resources string // the Resource as JSON
	// anyResource: the Resource is "*" or a list holding "*".
	anyResource bool
	condition   map[string]any
}

func (s *synthesized) statements() []statement {
	var out []statement
	add := func(policy string, roles []string, doc any) {
		for _, st := range doc.(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			cond, _ := m["Condition"].(map[string]any)
			out = append(out, statement{policy: policy, roles: roles, actions: strs(m["Action"]), resources: js(m["Resource"]),
				anyResource: contains(strs(m["Resource"]), "*"), condition: cond})
		}
	}
	for id, r := range s.resources("AWS::IAM::Policy") {
		p := props(r)
		var roles []string
		for _, role := range p["Roles"].([]any) {
			roles = append(roles, role.(map[string]any)["Ref"].(string))
		}
		add(id, roles, p["PolicyDocument"])
	}
	for id, r := range s.resources("AWS::IAM::Role") {
		policies, _ := props(r)["Policies"].([]any)
		for _, p := range policies {
			add(id+" inline", []string{id}, p.(map[string]any)["PolicyDocument"])
		}
	}
	return out
}

// strs returns a policy element that is a string or a list as its strings; other values (an
// Fn::GetAtt, a Ref) are left out.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (st statement) has(action string) bool {
	for _, a := range st.actions {
		if a == action {
			return true
		}
	}
	return false
}

const wantContextCondition = `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["userId","configId"]},"Null":{"kms:EncryptionContext:configId":"false","kms:EncryptionContext:userId":"false"}}`

func TestKMSPermissions(t *testing.T) {
	s := defaultStack(t)
	keyID := s.id(s.stack.Keys.Key)
	must(t, "key rotation", func() {
		s.template.HasResourceProperties(jsii.String("AWS::KMS::Key"), map[string]any{"EnableKeyRotation": true})
	})
	deployerRole := s.id(s.stack.Functions.Deployer.Role())
	publisherRole := s.id(s.stack.Keys.Publisher)

	// Every KMS action granted by any IAM policy in the stack, by role.
	got := map[string][]string{}
	for _, st := range s.statements() {
		for _, a := range st.actions {
			if !strings.HasPrefix(a, "kms:") {
				continue
			}
			if !strings.Contains(st.resources, keyID) {
				t.Errorf("%s on %s, want only the credentials key", a, st.resources)
			}
			if js(st.condition) != wantContextCondition {
				t.Errorf("%s for %v: condition %s, want %s", a, st.roles, js(st.condition), wantContextCondition)
			}
			for _, r := range st.roles {
				got[r] = append(got[r], a)
			}
		}
	}
	want := map[string][]string{deployerRole: {"kms:Decrypt"}, publisherRole: {"kms:Encrypt"}}
	if js(got) != js(want) {
		t.Errorf("KMS grants = %s, want %s (deployer Decrypt only, publisher Encrypt only)", js(got), js(want))
	}
}

// The app's two roles: the publisher may only kms:Encrypt (context-bound, TestKMSPermissions) the
// credentials and sqs:SendMessage to the deploy queue (issue 5); the token signer only reads the
// token secret. Each is exactly that: no other statement, inline policy or managed policy.
func TestAppRolesAreLeastPrivilege(t *testing.T) {
	s := defaultStack(t)
	cases := []struct {
		name string
		role string
		want map[string]string // action -> logical id of the only resource it is on
	}{
		{"publisher", s.id(s.stack.Keys.Publisher), map[string]string{
			"kms:Encrypt":     s.id(s.stack.Keys.Key),
			"sqs:SendMessage": s.id(s.stack.Queue.Deploy),
		}},
		{"token signer", s.id(s.stack.Keys.TokenSigner), map[string]string{
			"secretsmanager:DescribeSecret": s.id(s.stack.Keys.TokenSecret),
			"secretsmanager:GetSecretValue": s.id(s.stack.Keys.TokenSecret),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, st := range s.statements() {
				if !contains(st.roles, tc.role) {
					continue
				}
				for _, a := range st.actions {
					got[a] = st.resources
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("%s role actions = %s, want exactly %s", tc.name, js(got), js(tc.want))
			}
			for action, resource := range tc.want {
				on, ok := got[action]
				if !ok || strings.Count(on, `"`+resource+`"`) == 0 || strings.HasPrefix(on, "[") {
					t.Errorf("%s role: %s on %s, want it on %s only", tc.name, action, on, resource)
				}
			}
			role := props(s.resources("AWS::IAM::Role")[tc.role])
			if role["Policies"] != nil || role["ManagedPolicyArns"] != nil {
				t.Errorf("%s role has inline or managed policies: %s", tc.name, js(role))
			}
		})
	}
}

// Only the notifier may post to connections (wsconnect answers through the route response), and
// only POST on this API's stage: no GET or DELETE of connections, no other API.
func TestManageConnectionsOnlyNotifier(t *testing.T) {
	s := defaultStack(t)
	want := []string{s.id(s.stack.Functions.Notifier.Role())}
	var holders []string
	for _, st := range s.statements() {
		if !st.has("execute-api:ManageConnections") {
			continue
		}
		holders = append(holders, st.roles...)
		if len(st.actions) != 1 {
			t.Errorf("ManageConnections statement also grants %v", st.actions)
		}
		scope := `{"Ref":"` + s.id(s.stack.WebSocket.API) + `"},"/` + StageName + `/POST/@connections/*"]]}`
		if !strings.HasSuffix(st.resources, scope) {
			t.Errorf("ManageConnections on %s, want this API's %s only", st.resources, scope)
		}
	}
	sort.Strings(holders)
	if js(holders) != js(want) {
		t.Errorf("execute-api:ManageConnections granted to %v, want exactly %v (the notifier)", holders, want)
	}
}

func TestTokenSecretReaders(t *testing.T) {
	s := defaultStack(t)
	want := []string{s.id(s.stack.Functions.WSConnect.Role()), s.id(s.stack.Keys.TokenSigner)}
	sort.Strings(want)
	var got []string
	for _, st := range s.statements() {
		if st.has("secretsmanager:GetSecretValue") {
			got = append(got, st.roles...)
		}
	}
	sort.Strings(got)
	if js(got) != js(want) {
		t.Errorf("token secret readers = %v, want %v (wsconnect and the token signer)", got, want)
	}
}

func TestNoBroadPermissions(t *testing.T) {
	s := defaultStack(t)
	for _, st := range s.statements() {
		for _, a := range st.actions {
			if strings.Contains(a, "*") {
				t.Errorf("policy %s grants wildcard action %s", st.policy, a)
			}
		}
		// dynamodb:ListStreams has no resource-level permissions; the stream event source needs it.
		if st.anyResource && (st.resources != `"*"` || js(st.actions) != `["dynamodb:ListStreams"]`) {
			t.Errorf("policy %s grants %v on every resource (%s)", st.policy, st.actions, st.resources)
		}
	}
	for id, r := range s.resources("AWS::IAM::Role") {
		if strings.Contains(js(props(r)["ManagedPolicyArns"]), "FullAccess") {
			t.Errorf("role %s has a *FullAccess managed policy", id)
		}
	}
}

// The Resource forms TestNoBroadPermissions must catch: "*" alone and "*" inside a list.
func TestAnyResourceForms(t *testing.T) {
	cases := []struct {
		resource string
		want     bool
	}{
		{`"*"`, true},
		{`["arn:aws:sqs:eu-west-1:111122223333:q", "*"]`, true},
		{`["*"]`, true},
		{`{"Fn::GetAtt": ["Queue", "Arn"]}`, false},
		{`[{"Fn::GetAtt": ["Queue", "Arn"]}, {"Fn::Join": ["", ["x", "/index/*"]]}]`, false},
		{`"arn:aws:execute-api:eu-west-1:111122223333:api/live/POST/@connections/*"`, false},
	}
	for _, tc := range cases {
		var v any
		if err := json.Unmarshal([]byte(tc.resource), &v); err != nil {
			t.Fatal(err)
		}
		if got := contains(strs(v), "*"); got != tc.want {
			t.Errorf("Resource %s: every resource = %v, want %v", tc.resource, got, tc.want)
		}
	}
}

// actionMatches reports whether an IAM action pattern (`*` and `?` wildcards, case-insensitive)
// covers action.
func actionMatches(pattern, action string) bool {
	re := "(?i)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(action)
}

func TestActionMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, action string
		want            bool
	}{
		{"kms:*", "kms:Decrypt", true}, {"*", "kms:Decrypt", true}, {"kms:De*", "kms:Decrypt", true},
		{"KMS:decrypt", "kms:Decrypt", true}, {"kms:Create*", "kms:CreateGrant", true},
		{"kms:Describe*", "kms:Decrypt", false}, {"kms:Encrypt", "kms:Decrypt", false}, {"kms:Decrypt?", "kms:Decrypt", false},
	} {
		if got := actionMatches(tc.pattern, tc.action); got != tc.want {
			t.Errorf("actionMatches(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

// Issue 11: the credentials key's policy is not CDK's default (kms:* for the account root, which
// delegates every use of the key to IAM). The root, and so any identity policy in the account,
// may only administer the key: no Decrypt, no other use, no grants (a grant can carry Decrypt).
// Decrypt is allowed to the deployer's role alone and Encrypt to the publisher role alone, each
// bound to the encryption context. Wildcards in the policy are expanded, so a later `kms:*`
// fails here.
func TestKeyPolicy(t *testing.T) {
	s := defaultStack(t)
	root := `{"AWS":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":root"]]}}`
	deployer := `{"AWS":{"Fn::GetAtt":["` + s.id(s.stack.Functions.Deployer.Role()) + `","Arn"]}}`
	publisher := `{"AWS":{"Fn::GetAtt":["` + s.id(s.stack.Keys.Publisher) + `","Arn"]}}`
	doc := props(s.resources("AWS::KMS::Key")[s.id(s.stack.Keys.Key)])["KeyPolicy"].(map[string]any)
	statements := doc["Statement"].([]any)
	// The actions that use the key or hand it on; who may do each.
	uses := map[string]string{
		"kms:Decrypt": deployer, "kms:Encrypt": publisher,
		"kms:ReEncryptFrom": "", "kms:ReEncryptTo": "", "kms:GenerateDataKey": "", "kms:GenerateDataKeyPair": "",
		"kms:GenerateDataKeyWithoutPlaintext": "", "kms:CreateGrant": "", "kms:GenerateMac": "",
	}
	allowed := map[string][]string{} // use action -> principals allowed it
	var rootActions []string
	for _, st := range statements {
		m := st.(map[string]any)
		if m["Effect"] != "Allow" {
			continue
		}
		principal := js(m["Principal"])
		if principal != root && principal != deployer && principal != publisher {
			t.Errorf("key policy names principal %s, want only the root, the deployer role and the publisher role", principal)
		}
		if principal == root {
			rootActions = append(rootActions, strs(m["Action"])...)
		}
		for action := range uses {
			for _, pattern := range strs(m["Action"]) {
				if actionMatches(pattern, action) {
					allowed[action] = append(allowed[action], principal)
					if js(m["Condition"]) != wantContextCondition {
						t.Errorf("%s for %s: condition %s, want %s", action, principal, js(m["Condition"]), wantContextCondition)
					}
				}
			}
		}
	}
	for action, who := range uses {
		if got := strings.Join(allowed[action], " "); got != who {
			t.Errorf("key policy allows %s to [%s], want [%s]", action, got, who)
		}
	}
	sort.Strings(rootActions)
	want := append([]string(nil), KeyAdminActions...)
	sort.Strings(want)
	if js(rootActions) != js(want) {
		t.Errorf("account root may %v, want exactly the administrative actions %v", rootActions, want)
	}
}

// Issue 11: every function's role gets exactly the DynamoDB actions its code calls, each on the
// one table (or index) it calls it on. wsconnect, the internet-facing function, can read one
// status item at a time (GetItem), never Query, Scan or BatchGet the ciphertexts.
func TestDynamoDBActionsPerFunction(t *testing.T) {
	s := defaultStack(t)
	status, conns := s.id(s.stack.Tables.Status), s.id(s.stack.Tables.Connections)
	// where names the resource of a statement: a table, its stream, one of its indexes, or "*".
	where := func(resources string) string {
		switch {
		case resources == `"*"`:
			return "*"
		case strings.Contains(resources, status) && strings.Contains(resources, "StreamArn"):
			return "status stream"
		case strings.Contains(resources, conns) && strings.Contains(resources, "/index/"+ByConnectionIndex+`"`):
			return "connections index " + ByConnectionIndex
		case strings.Contains(resources, "/index/"):
			return "some index: " + resources
		case resources == `{"Fn::GetAtt":["`+status+`","Arn"]}`:
			return "status"
		case resources == `{"Fn::GetAtt":["`+conns+`","Arn"]}`:
			return "connections"
		}
		return resources
	}
	stream := []string{"status stream: dynamodb:DescribeStream", "status stream: dynamodb:GetRecords", "status stream: dynamodb:GetShardIterator", "*: dynamodb:ListStreams"}
	cases := []struct {
		name string
		role string
		want []string
	}{
		{"deployer", s.id(s.stack.Functions.Deployer.Role()), []string{"status: dynamodb:GetItem", "status: dynamodb:UpdateItem"}},
		{"deadletter", s.id(s.stack.Functions.DeadLetter.Role()), []string{"status: dynamodb:GetItem", "status: dynamodb:UpdateItem"}},
		{"notifier", s.id(s.stack.Functions.Notifier.Role()), append([]string{"connections: dynamodb:DeleteItem", "connections: dynamodb:Query"}, stream...)},
		{"wsconnect", s.id(s.stack.Functions.WSConnect.Role()), []string{
			"connections index byConnection: dynamodb:Query",
			"connections: dynamodb:DeleteItem", "connections: dynamodb:PutItem", "connections: dynamodb:UpdateItem",
			"status: dynamodb:GetItem",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, st := range s.statements() {
				if !contains(st.roles, tc.role) {
					continue
				}
				for _, a := range st.actions {
					if strings.HasPrefix(strings.ToLower(a), "dynamodb:") {
						got = append(got, where(st.resources)+": "+a)
					}
				}
			}
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if js(got) != js(want) {
				t.Errorf("%s DynamoDB grants:\n got %v\nwant %v", tc.name, got, want)
			}
		})
	}
}

// Issue 11: the stage throttles each route on its own (RouteSettings), at the limits sized in
// docs/infra.md, so garbage $connects and status spam do not share one budget.
func TestWebSocketThrottling(t *testing.T) {
	s := defaultStack(t)
	var stages []map[string]any
	for _, r := range s.resources("AWS::ApiGatewayV2::Stage") {
		stages = append(stages, props(r))
	}
	if len(stages) != 1 {
		t.Fatalf("%d stages, want 1", len(stages))
	}
	settings, _ := stages[0]["RouteSettings"].(map[string]any)
	for _, key := range []string{"$connect", "$disconnect", "$default"} {
		want, ok := RouteLimits[key]
		got, _ := settings[key].(map[string]any)
		if !ok || got["ThrottlingRateLimit"] != want.RateLimit || got["ThrottlingBurstLimit"] != float64(want.BurstLimit) {
			t.Errorf("route %s throttle = %s, want its own rate %v burst %d", key, js(got), want.RateLimit, want.BurstLimit)
		}
	}
	if len(settings) != len(RouteLimits) {
		t.Errorf("RouteSettings = %s, want exactly the routes of RouteLimits", js(settings))
	}
	def, _ := stages[0]["DefaultRouteSettings"].(map[string]any)
	if def["ThrottlingRateLimit"] != StageLimit.RateLimit || def["ThrottlingBurstLimit"] != float64(StageLimit.BurstLimit) {
		t.Errorf("DefaultRouteSettings = %s, want rate %v burst %d", js(def), StageLimit.RateLimit, StageLimit.BurstLimit)
	}
}

func TestWebSocketRoutes(t *testing.T) {
	s := defaultStack(t)
	routes := s.resources("AWS::ApiGatewayV2::Route")
	integrations := s.resources("AWS::ApiGatewayV2::Integration")
	wsconnect := s.id(s.stack.Functions.WSConnect)
	got := map[string]bool{}
	for _, r := range routes {
		p := props(r)
		key := p["RouteKey"].(string)
		target := js(p["Target"])
		for id, in := range integrations {
			if strings.Contains(target, id) && strings.Contains(js(props(in)["IntegrationUri"]), wsconnect) {
				got[key] = true
			}
		}
	}
	for _, key := range []string{"$connect", "$disconnect", "$default"} {
		if !got[key] {
			t.Errorf("route %s does not reach wsconnect (routes to wsconnect: %v)", key, got)
		}
	}
	// $default (client messages, {"action":"status"}) is two-way: API Gateway sends wsconnect's
	// response body to the client. The other routes are one-way.
	responses := map[string]string{} // route key -> route response keys
	for id, r := range routes {
		p := props(r)
		key := p["RouteKey"].(string)
		sel, _ := p["RouteResponseSelectionExpression"].(string)
		if (key == "$default") != (sel == "$default") {
			t.Errorf("route %s: RouteResponseSelectionExpression %q, want \"$default\" on $default only", key, sel)
		}
		for _, rr := range s.resources("AWS::ApiGatewayV2::RouteResponse") {
			rp := props(rr)
			if ref(rp["RouteId"], id) {
				responses[key] += rp["RouteResponseKey"].(string)
			}
		}
	}
	if js(responses) != `{"$default":"$default"}` {
		t.Errorf("route responses by route = %s, want one $default route response on $default only", js(responses))
	}
	must(t, "stage", func() {
		s.template.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Stage"), map[string]any{
			"StageName": StageName, "AutoDeploy": true,
		})
	})
}

func TestAlarms(t *testing.T) {
	s := defaultStack(t)
	topic := s.id(s.stack.Dashboard.Topic)
	alarms := s.resources("AWS::CloudWatch::Alarm")
	dlq, deploy, failures := s.id(s.stack.Queue.DeadLetter), s.id(s.stack.Queue.Deploy), s.id(s.stack.Queue.NotifierFailures)
	cases := []struct {
		name      string
		id        string
		metric    string // metric name somewhere in the alarm
		on        string // logical id of the resource its dimensions name; "" for metric math
		threshold float64
	}{
		{"DLQ receives", "DeadLetteredAlarm", "NumberOfMessagesReceived", dlq, 1},
		{"DLQ depth", "DeadLetterDepthAlarm", "ApproximateNumberOfMessagesVisible", dlq, 1},
		{"failure rate", "FailureRateAlarm", MetricFailed, "", FailureRateThreshold},
		{"throttles", "ThrottlesAlarm", "Throttles", "", 1},
		{"oldest message", "OldestMessageAlarm", "ApproximateAgeOfOldestMessage", deploy, OldestMessageAlarmSeconds},
		{"iterator age", "IteratorAgeAlarm", "IteratorAge", s.id(s.stack.Functions.Notifier), IteratorAgeAlarmMillis},
		{"notifier failures", "NotifierFailuresAlarm", "ApproximateNumberOfMessagesVisible", failures, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, ok := s.stack.Dashboard.Alarms[tc.id]
			if !ok {
				t.Fatalf("no alarm %s", tc.id)
			}
			p := props(alarms[s.id(a)])
			if p == nil {
				t.Fatalf("alarm %s not in the template", tc.id)
			}
			if !strings.Contains(js(p), `"`+tc.metric+`"`) {
				t.Errorf("alarm %s does not read %s: %s", tc.id, tc.metric, js(p))
			}
			if dims, _ := p["Dimensions"].([]any); tc.on != "" && (len(dims) != 1 || !ref(dims[0].(map[string]any)["Value"], tc.on)) {
				t.Errorf("alarm %s dimensions %s, want %s's", tc.id, js(dims), tc.on)
			}
			if p["Threshold"] != tc.threshold {
				t.Errorf("alarm %s threshold = %v, want %v", tc.id, p["Threshold"], tc.threshold)
			}
			if js(p["AlarmActions"]) != js([]any{map[string]any{"Ref": topic}}) {
				t.Errorf("alarm %s actions = %s, want the alarm topic", tc.id, js(p["AlarmActions"]))
			}
		})
	}
	if len(alarms) != len(cases) {
		t.Errorf("%d alarms in the template, %d asserted: add the new ones to this table", len(alarms), len(cases))
	}
	// Failure rate = failed / (succeeded + failed), failed = the DeploymentsFailed total that
	// shared/obs publishes with no dimension (alarms cannot sum a SEARCH over ErrorClass).
	rate := js(props(alarms[s.id(s.stack.Dashboard.Alarms["FailureRateAlarm"])]))
	for _, want := range []string{`"` + MetricSucceeded + `"`, `"` + MetricFailed + `"`, `"Sum"`,
		"100 * FILL(failed, 0) / (FILL(ok, 0) + FILL(failed, 0))", `"Period":900`} {
		if !strings.Contains(rate, want) {
			t.Errorf("failure-rate alarm lacks %s: %s", want, rate)
		}
	}
	// The throttles alarm sums every function's Throttles, each term FILLed with 0: a function
	// with no datapoint in a period would otherwise make the sum missing (not breaching).
	var expr string
	termOf := map[string]string{} // function logical id -> metric id
	for _, m := range props(alarms[s.id(s.stack.Dashboard.Alarms["ThrottlesAlarm"])])["Metrics"].([]any) {
		m := m.(map[string]any)
		if e, ok := m["Expression"].(string); ok {
			expr = e
			continue
		}
		metric, _ := m["MetricStat"].(map[string]any)["Metric"].(map[string]any)
		dims, _ := metric["Dimensions"].([]any)
		if metric["MetricName"] != "Throttles" || len(dims) != 1 {
			t.Errorf("throttles alarm reads %s", js(m))
			continue
		}
		termOf[dims[0].(map[string]any)["Value"].(map[string]any)["Ref"].(string)] = m["Id"].(string)
	}
	var terms []string
	for i, fn := range s.stack.Functions.All() {
		id, ok := termOf[s.id(fn)]
		if !ok {
			t.Errorf("throttles alarm misses %s", FunctionNames[i])
			continue
		}
		terms = append(terms, "FILL("+id+", 0)")
	}
	if len(termOf) != len(FunctionNames) || expr != strings.Join(terms, " + ") {
		t.Errorf("throttles alarm expression %q over %v, want %q", expr, termOf, strings.Join(terms, " + "))
	}
}

func TestDashboardWidgets(t *testing.T) {
	s := defaultStack(t)
	dashboards := s.resources("AWS::CloudWatch::Dashboard")
	if len(dashboards) != 1 {
		t.Fatalf("%d dashboards, want 1", len(dashboards))
	}
	var body string
	var parts []any // the body's Fn::Join parts: JSON text and the Refs/GetAtts between them
	for _, d := range dashboards {
		body = js(props(d)["DashboardBody"])
		join, _ := props(d)["DashboardBody"].(map[string]any)["Fn::Join"].([]any)
		if len(join) == 2 {
			parts, _ = join[1].([]any)
		}
	}
	// metricOn reports whether the body graphs namespace/metric with its dimension's value the
	// resource with that logical id: the text before the token ends with the metric's start.
	metricOn := func(namespace, metric, dimension, id string) bool {
		start := fmt.Sprintf(`[%q,%q,%q,"`, namespace, metric, dimension)
		for i := 0; i+1 < len(parts); i++ {
			if text, ok := parts[i].(string); ok && strings.HasSuffix(text, start) && ref(parts[i+1], id) {
				return true
			}
		}
		return false
	}
	ties := []struct{ name, namespace, metric, dimension, id string }{
		{"DLQ depth", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", s.id(s.stack.Queue.DeadLetter)},
		{"dead-lettered", "AWS/SQS", "NumberOfMessagesReceived", "QueueName", s.id(s.stack.Queue.DeadLetter)},
		{"oldest message", "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", s.id(s.stack.Queue.Deploy)},
		{"notifier iterator age", "AWS/Lambda", "IteratorAge", "FunctionName", s.id(s.stack.Functions.Notifier)},
		{"failed stream batches", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", s.id(s.stack.Queue.NotifierFailures)},
	}
	for _, tc := range ties {
		t.Run(tc.name+" on its resource", func(t *testing.T) {
			if !metricOn(tc.namespace, tc.metric, tc.dimension, tc.id) {
				t.Errorf("dashboard has no %s %s for %s %s", tc.namespace, tc.metric, tc.dimension, tc.id)
			}
		})
	}
	for i, fn := range s.stack.Functions.All() {
		for _, metric := range []string{"Errors", "Throttles"} {
			if !metricOn("AWS/Lambda", metric, "FunctionName", s.id(fn)) {
				t.Errorf("dashboard has no Lambda %s for %s", metric, FunctionNames[i])
			}
		}
	}
	cases := []struct{ name, want string }{
		{"outcome widget", "Deployments by outcome"},
		{"started", MetricStarted},
		{"succeeded", MetricSucceeded},
		{"failed total", `\"ByodDeployer\",\"` + MetricFailed + `\"`},
		{"by error class", `SEARCH('{ByodDeployer,ErrorClass} MetricName=\\\"DeploymentsFailed\\\"'`},
		{"duration p50", `\"stat\":\"p50\"`},
		{"duration p95", `\"stat\":\"p95\"`},
		{"duration metric", MetricDuration},
		{"alarm status", `\"type\":\"alarm\"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(body, tc.want) {
				t.Errorf("dashboard body has no %s", tc.want)
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	s := defaultStack(t)
	outputs, _ := s.json["Outputs"].(map[string]any)
	for _, name := range []string{OutputQueueURL, OutputWebSocketURL, OutputStatusTable, OutputConnectionsTable,
		OutputKeyARN, OutputPublisherRoleARN, OutputTokenSignerRoleARN, OutputTokenSecretARN, OutputAlarmTopicARN, OutputDashboardName} {
		if _, ok := outputs[name]; !ok {
			t.Errorf("no output %s", name)
		}
	}
	for output, want := range map[string]struct{ export, role string }{
		OutputPublisherRoleARN:   {ExportPublisherRoleARNName, s.id(s.stack.Keys.Publisher)},
		OutputTokenSignerRoleARN: {ExportTokenSignerRoleARNName, s.id(s.stack.Keys.TokenSigner)},
	} {
		o, _ := outputs[output].(map[string]any)
		export, _ := o["Export"].(map[string]any)
		if export["Name"] != want.export || !ref(o["Value"], want.role) {
			t.Errorf("output %s = %s, want the ARN of %s exported as %s", output, js(o), want.role, want.export)
		}
	}
	if !strings.Contains(js(outputs[OutputWebSocketURL]), "wss://") {
		t.Errorf("WebSocket URL output = %s, want wss://", js(outputs[OutputWebSocketURL]))
	}
}

// The staged image context holds exactly what the Dockerfile copies, not the rest of the tree.
func TestDeployerImageContext(t *testing.T) {
	s := defaultStack(t)
	var staged string
	entries, err := os.ReadDir(s.outdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && fileExists(filepath.Join(s.outdir, e.Name(), DockerfilePath)) {
			staged = filepath.Join(s.outdir, e.Name())
		}
	}
	if staged == "" {
		t.Fatalf("no staged image context with %s in %s", DockerfilePath, s.outdir)
	}
	var files []string
	err = filepath.WalkDir(staged, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(staged, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	want := []string{"bin/deployer/bootstrap", DockerfilePath, DockerignorePath, "layers/package-lock.json", "layers/package.json"}
	sort.Strings(want)
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Errorf("staged image context = %v, want %v", files, want)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestNewStackReportsMissingAssets(t *testing.T) {
	cases := []struct {
		name   string
		remove string
	}{
		{"deployer bootstrap", "bin/deployer/bootstrap"},
		{"notifier bootstrap", "bin/notifier/bootstrap"},
		{"Dockerfile", DockerfilePath},
		{"ignore file", DockerignorePath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := populateRoot(root); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(root, tc.remove)); err != nil {
				t.Fatal(err)
			}
			_, err := synth(root, filepath.Join(t.TempDir(), "cdk.out"), nil)
			if !errors.Is(err, ErrAsset) || !strings.Contains(err.Error(), tc.remove) {
				t.Errorf("NewStack without %s: err = %v, want ErrAsset naming the path", tc.remove, err)
			}
		})
	}
}

func TestNewStackRejectsConcurrency(t *testing.T) {
	cases := []struct {
		name             string
		reserved, maxCon int
	}{
		{"max above reserved", 5, 8},
		{"max equal to reserved", 5, 5},
		{"max below SQS minimum", 10, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := populateRoot(root); err != nil {
				t.Fatal(err)
			}
			_, err := synth(root, filepath.Join(t.TempDir(), "cdk.out"), &StackProps{ReservedConcurrency: tc.reserved, MaxConcurrency: tc.maxCon})
			if !errors.Is(err, ErrProps) {
				t.Errorf("reserved %d, max %d: err = %v, want ErrProps", tc.reserved, tc.maxCon, err)
			}
		})
	}
}
