package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Queue holds the deploy queue and the queues that catch what fails.
type Queue struct {
	// Deploy is the FIFO queue the app publishes to: message group = userId, deduplication id =
	// the message's requestId (set by the publisher; content-based deduplication is off, so two
	// requests with identical bodies but different request ids are both delivered, and a
	// republished request id within 5 minutes is dropped).
	Deploy awssqs.Queue
	// DeadLetter receives a deploy message after MaxReceiveCount receives (FIFO, as SQS requires
	// for a FIFO queue's DLQ); the deadletter function consumes it.
	DeadLetter awssqs.Queue
	// NotifierFailures is the notifier's on-failure destination: descriptions of stream batches
	// that still failed after the retries (standard queue, as Lambda requires).
	NotifierFailures awssqs.Queue
}

func newQueue(stack awscdk.Stack, keys *Keys) *Queue {
	dlq := queue(stack, "DeadLetterQueue", &awssqs.QueueProps{
		Fifo:                      jsii.Bool(true),
		ContentBasedDeduplication: jsii.Bool(false),
		RetentionPeriod:           awscdk.Duration_Days(jsii.Number(14)),
		// The deadletter function's timeout is 1 min; 6x like the deploy queue.
		VisibilityTimeout: awscdk.Duration_Minutes(jsii.Number(6)),
	})
	deploy := queue(stack, "DeployQueue", &awssqs.QueueProps{
		Fifo:                      jsii.Bool(true),
		ContentBasedDeduplication: jsii.Bool(false),
		RetentionPeriod:           awscdk.Duration_Days(jsii.Number(4)),
		VisibilityTimeout:         awscdk.Duration_Minutes(jsii.Number(DeployerTimeoutMinutes * VisibilityTimeoutRatio)),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(MaxReceiveCount),
		},
	})
	failures := queue(stack, "NotifierFailureQueue", &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	// The publisher may send, nothing else (no receive, purge or attribute reads).
	deploy.Grant(keys.Publisher, jsii.String("sqs:SendMessage"))
	return &Queue{Deploy: deploy, DeadLetter: dlq, NotifierFailures: failures}
}

// queue is a queue that refuses plain HTTP and is encrypted at rest with SQS-managed keys: not
// the credentials key, so the deployer's only KMS permission stays the context-bound Decrypt
// (the credentials inside a message are a KMS ciphertext already).
func queue(stack awscdk.Stack, id string, p *awssqs.QueueProps) awssqs.Queue {
	p.Encryption = awssqs.QueueEncryption_SQS_MANAGED
	p.EnforceSSL = jsii.Bool(true)
	return awssqs.NewQueue(stack, jsii.String(id), p)
}
