package localrun

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func TestFailedItems(t *testing.T) {
	ids := []string{"m1", "m2", "m3"}
	cases := []struct {
		name    string
		out     string
		want    []int
		wantErr bool
	}{
		{name: "empty response", out: ``},
		{name: "null response", out: `null`},
		{name: "empty object", out: `{}`},
		{name: "null list", out: `{"batchItemFailures":null}`},
		{name: "empty list", out: `{"batchItemFailures":[]}`},
		{name: "one failure", out: `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`, want: []int{1}},
		{name: "failures come back in batch order", out: `{"batchItemFailures":[{"itemIdentifier":"m3"},{"itemIdentifier":"m1"}]}`, want: []int{0, 2}},
		{name: "unknown id fails the batch", out: `{"batchItemFailures":[{"itemIdentifier":"m9"}]}`, wantErr: true},
		{name: "empty id fails the batch", out: `{"batchItemFailures":[{"itemIdentifier":""}]}`, wantErr: true},
		{name: "null id fails the batch", out: `{"batchItemFailures":[{"itemIdentifier":null}]}`, wantErr: true},
		{name: "wrong key name fails the batch", out: `{"batchItemFailures":[{"itemId":"m1"}]}`, wantErr: true},
		{name: "invalid JSON fails the batch", out: `{"batchItemFailures":`, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := failedItems([]byte(tc.out), ids)
			if (err != nil) != tc.wantErr {
				t.Fatalf("failedItems(%s) error = %v, want error %v", tc.out, err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("failedItems(%s) = %v, want %v", tc.out, got, tc.want)
			}
		})
	}
}

// TestEventAttributes checks the conversion against the attribute JSON of Lambda's DynamoDB
// event (aws-lambda-go events/testdata/dynamodb-event.json uses the same form).
func TestEventAttributes(t *testing.T) {
	cases := []struct {
		name string
		in   types.AttributeValue
		want string
	}{
		{"string", &types.AttributeValueMemberS{Value: "x"}, `{"S":"x"}`},
		{"number", &types.AttributeValueMemberN{Value: "12.5"}, `{"N":"12.5"}`},
		{"binary", &types.AttributeValueMemberB{Value: []byte{0, 1, 42, 65}}, `{"B":"AAEqQQ=="}`},
		{"bool", &types.AttributeValueMemberBOOL{Value: true}, `{"BOOL":true}`},
		{"null", &types.AttributeValueMemberNULL{Value: true}, `{"NULL":true}`},
		{"string set", &types.AttributeValueMemberSS{Value: []string{"a", "b"}}, `{"SS":["a","b"]}`},
		{"number set", &types.AttributeValueMemberNS{Value: []string{"1", "2"}}, `{"NS":["1","2"]}`},
		{"binary set", &types.AttributeValueMemberBS{Value: [][]byte{{0, 1, 42, 65}, {65, 42, 1, 0}}}, `{"BS":["AAEqQQ==","QSoBAA=="]}`},
		{"list", &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "a"}, &types.AttributeValueMemberN{Value: "1"}}}, `{"L":[{"S":"a"},{"N":"1"}]}`},
		{"map", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "3"}}}}}, `{"M":{"k":{"M":{"n":{"N":"3"}}}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := eventAttributes(map[string]types.AttributeValue{"a": tc.in})
			if err != nil {
				t.Fatalf("eventAttributes: %v", err)
			}
			got, err := json.Marshal(m["a"])
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
