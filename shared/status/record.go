package status

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/byod-deployer/byod-deployer/shared/failure"
)

// State is where a request is in its life: the record's deploymentStatus. (What a running
// deploy is doing is its Stage.)
type State string

// The states. queued and deploying are in flight; deployed and failed are final for a request.
const (
	Queued    State = "queued"
	Deploying State = "deploying"
	Deployed  State = "deployed"
	Failed    State = "failed"
	// Refused appears only on history items: the request was not run (see Store.Refuse).
	Refused State = "refused"
)

// Final reports whether a request in state s has ended.
func (s State) Final() bool { return s == Deployed || s == Failed || s == Refused }

// Stage is the step a request is at: the record's stage. The store writes StageQueued,
// StageStarting and StageDeployed itself; while deploying, the deployer writes the engine's
// stages (deploy.Stage, the same words) through Progress, and a failure keeps the stage it
// happened in. StageDeployed has the same value as the state Deployed, but the two are different
// types: a stage is never compared with a state.
type Stage string

// The stages the store writes.
const (
	StageQueued   Stage = "queued"
	StageStarting Stage = "starting"
	StageDeployed Stage = "deployed"
)

// Connection states of the user's deployment as last observed by a deploy.
const (
	ConnectionUnknown   = "unknown"
	ConnectionConnected = "connected"
	ConnectionError     = "error"
)

// Record is the current status of one (user, config). Its JSON tags are the wire shape the
// browser receives; its dynamodbav tags are the item's attributes. Times are RFC 3339 strings in
// UTC with millisecond precision.
type Record struct {
	UserID             string `json:"userId" dynamodbav:"userId"`
	ConfigID           string `json:"configId" dynamodbav:"configId"`
	DeploymentStatus   State  `json:"deploymentStatus" dynamodbav:"deploymentStatus"`
	DeploymentProgress string `json:"deploymentProgress,omitempty" dynamodbav:"deploymentProgress,omitempty"`
	Stage              Stage  `json:"stage,omitempty" dynamodbav:"stage,omitempty"`
	// SchemaVersion and LastSchemaDeploy describe what is deployed: they change only when a
	// deploy succeeds.
	SchemaVersion    int           `json:"schemaVersion,omitempty" dynamodbav:"schemaVersion,omitempty"`
	LastSchemaDeploy string        `json:"lastSchemaDeploy,omitempty" dynamodbav:"lastSchemaDeploy,omitempty"`
	ConnectionStatus string        `json:"connectionStatus,omitempty" dynamodbav:"connectionStatus,omitempty"`
	ConnectionError  string        `json:"connectionError,omitempty" dynamodbav:"connectionError,omitempty"`
	ErrorClass       failure.Class `json:"errorClass,omitempty" dynamodbav:"errorClass,omitempty"`
	ErrorHint        string        `json:"errorHint,omitempty" dynamodbav:"errorHint,omitempty"`
	Retryable        bool          `json:"retryable,omitempty" dynamodbav:"retryable,omitempty"`
	// Attempt is the number of the latest claim of this (user, config): every claim (a deploy,
	// a retry, a lease take-over) is one attempt. It is the only meaning of "attempt"; a request's
	// own claims are counted on its history item (History.Claims).
	Attempt   int    `json:"attempt,omitempty" dynamodbav:"attempt,omitempty"`
	RequestID string `json:"requestId,omitempty" dynamodbav:"requestId,omitempty"`
	// Notice says why the last request was refused (e.g. a retry of a deployment that is not
	// failed); the refused request did not change the status. Cleared by the next accepted request.
	Notice    string `json:"notice,omitempty" dynamodbav:"notice,omitempty"`
	UpdatedAt string `json:"updatedAt,omitempty" dynamodbav:"updatedAt,omitempty"`
	// Version increases by one on every write of the current item.
	Version int64 `json:"version" dynamodbav:"version"`

	// LeaseOwner and LeaseExpiresAt (Unix milliseconds) are held while deploying.
	LeaseOwner     string `json:"-" dynamodbav:"leaseOwner,omitempty"`
	LeaseExpiresAt int64  `json:"-" dynamodbav:"leaseExpiresAt,omitempty"`
	// Ciphertext is the KMS ciphertext of the last deploy's credentials (never the plaintext),
	// kept so that a retry without new credentials can run again.
	Ciphertext string `json:"-" dynamodbav:"ciphertext,omitempty"`
}

// History is a request's history item (sort key HistorySK): what happened to one request.
type History struct {
	UserID           string        `dynamodbav:"userId"`
	ConfigID         string        `dynamodbav:"configId"`
	RequestID        string        `dynamodbav:"requestId"`
	Type             string        `dynamodbav:"type,omitempty"`
	DeploymentStatus State         `dynamodbav:"deploymentStatus"`
	Stage            Stage         `dynamodbav:"stage,omitempty"`
	ErrorClass       failure.Class `dynamodbav:"errorClass,omitempty"`
	// Reason is the failure or refusal message.
	Reason        string `dynamodbav:"reason,omitempty"`
	SchemaVersion int    `dynamodbav:"schemaVersion,omitempty"`
	// Claims counts the claims of this request (more than one after a lease take-over).
	Claims     int    `dynamodbav:"claims,omitempty"`
	LeaseOwner string `dynamodbav:"leaseOwner,omitempty"`
	CreatedAt  string `dynamodbav:"createdAt,omitempty"`
	StartedAt  string `dynamodbav:"startedAt,omitempty"`
	FinishedAt string `dynamodbav:"finishedAt,omitempty"`
	UpdatedAt  string `dynamodbav:"updatedAt,omitempty"`
	DurationMS int64  `dynamodbav:"durationMs,omitempty"`
}

// Item keys (see docs/ARCHITECTURE.md). History items keep the prefix ATTEMPT#: it is in the
// key of every item already stored.
const (
	attrPK        = "pk"
	attrSK        = "sk"
	skCurrent     = "CURRENT"
	skHistoryPref = "ATTEMPT#"
)

// PK returns the partition key of a (user, config): CFG#<userId>#<configId>.
func PK(userID, configID string) string { return "CFG#" + userID + "#" + configID }

// HistorySK returns the sort key of a request's history item.
func HistorySK(requestID string) string { return skHistoryPref + requestID }

// ErrNotStatusItem is wrapped by FromStreamImage when the image is not an item of the status table.
var ErrNotStatusItem = errors.New("status: not a status item")

// FromStreamImage decodes a DynamoDB stream image (events.DynamoDBStreamRecord.NewImage) of the
// status table. current reports whether it is the current item (sk = CURRENT); for a history item
// the Record holds only the fields the two share, and callers that forward to browsers should drop
// it. It returns an error wrapping ErrNotStatusItem when the image lacks the keys, and a decode
// error when an attribute has the wrong type.
func FromStreamImage(image map[string]events.DynamoDBAttributeValue) (rec Record, current bool, err error) {
	pk, okPK := image[attrPK]
	sk, okSK := image[attrSK]
	if !okPK || !okSK || pk.DataType() != events.DataTypeString || sk.DataType() != events.DataTypeString {
		return Record{}, false, fmt.Errorf("status: decode stream image: %w", ErrNotStatusItem)
	}
	if !strings.HasPrefix(pk.String(), "CFG#") {
		return Record{}, false, fmt.Errorf("status: decode stream image %q: %w", pk.String(), ErrNotStatusItem)
	}
	item, err := fromStreamMap(image)
	if err != nil {
		return Record{}, false, fmt.Errorf("status: decode stream image %s: %w", pk.String(), err)
	}
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		return Record{}, false, fmt.Errorf("status: decode stream image %s: %w", pk.String(), err)
	}
	return rec, sk.String() == skCurrent, nil
}

func fromStreamMap(m map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		av, err := fromStream(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

// fromStream converts the Lambda events representation of an attribute to the SDK's.
func fromStream(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		list := v.List()
		out := make([]types.AttributeValue, len(list))
		for i, e := range list {
			av, err := fromStream(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := fromStreamMap(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	default:
		return nil, fmt.Errorf("unsupported stream attribute type %d", v.DataType())
	}
}
