import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

// The BYOD schema, version 1: the chat app's per-user content, kept in the
// user's own deployment. These are the nine tables of the BYOD spec's schema
// package, with its fields, indexes, search indexes and vector indexes as the
// spec lists them. `userId` is the app's (Clerk) user id, a string: the users
// table lives in the app's main database, not here.
//
// Times are epoch milliseconds. Embeddings are 1536-dimension float64 vectors
// (OpenAI-style) and optional, so content can land before it is embedded.
//
// Adding or changing a table: edit this file, bump Version in
// shared/bundle/bundle.go, run `go test ./shared/bundle -update` and review the
// golden diff (shared/bundle/schema.json, docs/package.md).

/** Dimensions of every vector index. */
const EMBEDDING_DIMENSIONS = 1536;

const embedding = v.optional(v.array(v.float64()));

export default defineSchema({
  conversations: defineTable({
    userId: v.string(),
    title: v.optional(v.string()),
    model: v.optional(v.string()),
    systemPrompt: v.optional(v.string()),
    isArchived: v.optional(v.boolean()),
    isPinned: v.optional(v.boolean()),
    lastMessageAt: v.optional(v.number()),
    messageCount: v.optional(v.number()),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_archived", ["userId", "isArchived"])
    .index("by_user_pinned", ["userId", "isPinned"])
    .index("by_user_last_message", ["userId", "lastMessageAt"])
    .searchIndex("search_title", {
      searchField: "title",
      filterFields: ["userId"],
    }),

  messages: defineTable({
    conversationId: v.id("conversations"),
    userId: v.string(),
    role: v.union(v.literal("user"), v.literal("assistant"), v.literal("system")),
    content: v.string(),
    model: v.optional(v.string()),
    // Generation state.
    status: v.optional(
      v.union(
        v.literal("pending"),
        v.literal("generating"),
        v.literal("complete"),
        v.literal("error"),
        v.literal("stopped"),
      ),
    ),
    partialContent: v.optional(v.string()),
    error: v.optional(v.string()),
    generationStartedAt: v.optional(v.number()),
    generationCompletedAt: v.optional(v.number()),
    // Token accounting.
    inputTokens: v.optional(v.number()),
    outputTokens: v.optional(v.number()),
    cost: v.optional(v.number()),
    // Branching: a regenerated answer is a sibling under the same parent.
    parentMessageId: v.optional(v.id("messages")),
    branchIndex: v.optional(v.number()),
    embedding,
    metadata: v.optional(v.any()),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_conversation", ["conversationId"])
    .index("by_conversation_created", ["conversationId", "createdAt"])
    .index("by_user", ["userId"])
    .index("by_parent", ["parentMessageId"])
    .index("by_status", ["status"])
    .searchIndex("search_content", {
      searchField: "content",
      filterFields: ["userId", "conversationId"],
    })
    .vectorIndex("embedding", {
      vectorField: "embedding",
      dimensions: EMBEDDING_DIMENSIONS,
      filterFields: ["userId", "conversationId"],
    }),

  memories: defineTable({
    userId: v.string(),
    content: v.string(),
    category: v.optional(v.string()),
    source: v.optional(
      v.union(v.literal("extracted"), v.literal("manual"), v.literal("imported")),
    ),
    sourceConversationId: v.optional(v.id("conversations")),
    sourceMessageId: v.optional(v.id("messages")),
    /** Relevance score from 0 to 1. */
    importance: v.optional(v.number()),
    embedding,
    isActive: v.optional(v.boolean()),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_active", ["userId", "isActive"])
    .index("by_user_category", ["userId", "category"])
    .index("by_source_conversation", ["sourceConversationId"])
    .searchIndex("search_content", {
      searchField: "content",
      filterFields: ["userId", "category"],
    })
    .vectorIndex("embedding", {
      vectorField: "embedding",
      dimensions: EMBEDDING_DIMENSIONS,
      filterFields: ["userId", "category", "isActive"],
    }),

  files: defineTable({
    userId: v.string(),
    storageId: v.optional(v.id("_storage")),
    filename: v.string(),
    mimeType: v.string(),
    size: v.number(),
    url: v.optional(v.string()),
    status: v.optional(
      v.union(
        v.literal("uploading"),
        v.literal("processing"),
        v.literal("ready"),
        v.literal("error"),
      ),
    ),
    error: v.optional(v.string()),
    metadata: v.optional(v.any()),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_status", ["userId", "status"]),

  projects: defineTable({
    userId: v.string(),
    name: v.string(),
    description: v.optional(v.string()),
    color: v.optional(v.string()),
    icon: v.optional(v.string()),
    isArchived: v.optional(v.boolean()),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_archived", ["userId", "isArchived"]),

  notes: defineTable({
    userId: v.string(),
    title: v.string(),
    /** Markdown. */
    content: v.string(),
    isPinned: v.optional(v.boolean()),
    isArchived: v.optional(v.boolean()),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_pinned", ["userId", "isPinned"])
    .index("by_user_archived", ["userId", "isArchived"])
    .searchIndex("search_content", {
      searchField: "content",
      filterFields: ["userId"],
    }),

  tasks: defineTable({
    userId: v.string(),
    title: v.string(),
    description: v.optional(v.string()),
    status: v.union(
      v.literal("todo"),
      v.literal("in_progress"),
      v.literal("done"),
      v.literal("cancelled"),
    ),
    priority: v.optional(
      v.union(v.literal("low"), v.literal("medium"), v.literal("high"), v.literal("urgent")),
    ),
    dueDate: v.optional(v.number()),
    completedAt: v.optional(v.number()),
    sourceConversationId: v.optional(v.id("conversations")),
    sourceMessageId: v.optional(v.id("messages")),
    createdAt: v.number(),
    updatedAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_status", ["userId", "status"])
    .index("by_user_due", ["userId", "dueDate"])
    .index("by_source_conversation", ["sourceConversationId"]),

  bookmarks: defineTable({
    userId: v.string(),
    messageId: v.id("messages"),
    conversationId: v.id("conversations"),
    note: v.optional(v.string()),
    createdAt: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_message", ["messageId"])
    .index("by_conversation", ["conversationId"]),

  usageRecords: defineTable({
    userId: v.string(),
    /** Day, YYYY-MM-DD. */
    date: v.string(),
    model: v.string(),
    inputTokens: v.number(),
    outputTokens: v.number(),
    cost: v.number(),
    requestCount: v.number(),
  })
    .index("by_user", ["userId"])
    .index("by_user_date", ["userId", "date"])
    .index("by_user_model", ["userId", "model"]),
});
