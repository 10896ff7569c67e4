package localrun

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// batchResponse is the shape shared by events.SQSEventResponse and events.DynamoDBEventResponse.
type batchResponse struct {
	BatchItemFailures []struct {
		ItemIdentifier *string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// failedItems reads a handler's response the way Lambda does for ReportBatchItemFailures. It
// returns the indexes (into ids) of the failed items, in ascending order. An error means the
// response is invalid and Lambda would fail the whole batch: bad JSON, an empty or missing
// itemIdentifier, or one that names no item of the batch. An empty or null response, or an empty
// list, means every item succeeded.
func failedItems(out []byte, ids []string) ([]int, error) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 || bytes.Equal(out, []byte("null")) {
		return nil, nil
	}
	var resp batchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("invalid batch response: %w", err)
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	failed := make([]bool, len(ids))
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return nil, fmt.Errorf("invalid batch response: empty itemIdentifier")
		}
		i, ok := index[*f.ItemIdentifier]
		if !ok {
			return nil, fmt.Errorf("invalid batch response: itemIdentifier %q is not in the batch", *f.ItemIdentifier)
		}
		failed[i] = true
	}
	var idx []int
	for i, f := range failed {
		if f {
			idx = append(idx, i)
		}
	}
	return idx, nil
}
