import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

// The BYOD schema: the chat app's per-user content, kept in the user's own
// deployment. Every document carries the app's `userId`, so one deployment can
// hold several of the user's app accounts and every index starts with it.
//
// Times are epoch milliseconds. Embeddings are OpenAI-style 1536-dimension
// float64 vectors; they are optional so content can land before it is embedded.
//
// Adding or changing a table: edit this file, bump Version in
// shared/bundle/bundle.go, run `go test ./shared/bundle -update` and review the
// golden diff (testdata/schema.golden.json).

/** Dimensions of every vector index. */
const EMBEDDING_DIMENSIONS = 1536;

const embedding = v.optional(v.array(v.float64()));

const role = v.union(
  v.literal("user"),
  v.literal("assistant"),
  v.literal("system"),
  v.literal("tool"),
);

const taskStatus = v.union(
  v.literal("todo"),
  v.literal("in_progress"),
  v.literal("done"),
  v.literal("cancelled"),
);

export default defineSchema(
  {
    conversations: defineTable({
      userId: v.string(),
      title: v.string(),
      projectId: v.optional(v.id("projects")),
      model: v.optional(v.string()),
      systemPrompt: v.optional(v.string()),
      archived: v.boolean(),
      pinned: v.boolean(),
      lastMessageAt: v.optional(v.number()),
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_user_and_updated", ["userId", "updatedAt"])
      .index("by_user_and_archived", ["userId", "archived", "updatedAt"])
      .index("by_user_and_pinned", ["userId", "pinned", "updatedAt"])
      .index("by_project", ["projectId", "updatedAt"])
      .searchIndex("search_title", {
        searchField: "title",
        filterFields: ["userId", "archived", "projectId"],
      }),

    messages: defineTable({
      userId: v.string(),
      conversationId: v.id("conversations"),
      role,
      content: v.string(),
      model: v.optional(v.string()),
      parentMessageId: v.optional(v.id("messages")),
      fileIds: v.optional(v.array(v.id("files"))),
      tokenCount: v.optional(v.number()),
      embedding,
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_conversation", ["conversationId", "createdAt"])
      .index("by_user_and_created", ["userId", "createdAt"])
      .index("by_parent", ["parentMessageId"])
      .searchIndex("search_content", {
        searchField: "content",
        filterFields: ["userId", "conversationId", "role"],
      })
      .vectorIndex("by_embedding", {
        vectorField: "embedding",
        dimensions: EMBEDDING_DIMENSIONS,
        filterFields: ["userId", "conversationId"],
      }),

    memories: defineTable({
      userId: v.string(),
      content: v.string(),
      category: v.optional(v.string()),
      importance: v.optional(v.number()),
      sourceConversationId: v.optional(v.id("conversations")),
      sourceMessageId: v.optional(v.id("messages")),
      embedding,
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_user_and_updated", ["userId", "updatedAt"])
      .index("by_user_and_category", ["userId", "category", "updatedAt"])
      .index("by_source_conversation", ["sourceConversationId"])
      .searchIndex("search_content", {
        searchField: "content",
        filterFields: ["userId", "category"],
      })
      .vectorIndex("by_embedding", {
        vectorField: "embedding",
        dimensions: EMBEDDING_DIMENSIONS,
        filterFields: ["userId", "category"],
      }),

    files: defineTable({
      userId: v.string(),
      storageId: v.id("_storage"),
      name: v.string(),
      mimeType: v.string(),
      size: v.number(),
      conversationId: v.optional(v.id("conversations")),
      projectId: v.optional(v.id("projects")),
      extractedText: v.optional(v.string()),
      embedding,
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_user_and_created", ["userId", "createdAt"])
      .index("by_storage_id", ["storageId"])
      .index("by_conversation", ["conversationId", "createdAt"])
      .index("by_project", ["projectId", "createdAt"])
      .searchIndex("search_name", {
        searchField: "name",
        filterFields: ["userId", "mimeType", "projectId"],
      })
      .searchIndex("search_text", {
        searchField: "extractedText",
        filterFields: ["userId", "projectId"],
      })
      .vectorIndex("by_embedding", {
        vectorField: "embedding",
        dimensions: EMBEDDING_DIMENSIONS,
        filterFields: ["userId", "projectId"],
      }),

    projects: defineTable({
      userId: v.string(),
      name: v.string(),
      description: v.optional(v.string()),
      instructions: v.optional(v.string()),
      color: v.optional(v.string()),
      archived: v.boolean(),
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_user_and_updated", ["userId", "updatedAt"])
      .index("by_user_and_archived", ["userId", "archived", "updatedAt"])
      .searchIndex("search_name", {
        searchField: "name",
        filterFields: ["userId", "archived"],
      }),

    notes: defineTable({
      userId: v.string(),
      title: v.string(),
      body: v.string(),
      projectId: v.optional(v.id("projects")),
      conversationId: v.optional(v.id("conversations")),
      tags: v.array(v.string()),
      pinned: v.boolean(),
      embedding,
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_user_and_updated", ["userId", "updatedAt"])
      .index("by_user_and_pinned", ["userId", "pinned", "updatedAt"])
      .index("by_project", ["projectId", "updatedAt"])
      .index("by_conversation", ["conversationId"])
      .searchIndex("search_body", {
        searchField: "body",
        filterFields: ["userId", "projectId", "pinned"],
      })
      .searchIndex("search_title", {
        searchField: "title",
        filterFields: ["userId", "projectId"],
      })
      .vectorIndex("by_embedding", {
        vectorField: "embedding",
        dimensions: EMBEDDING_DIMENSIONS,
        filterFields: ["userId", "projectId"],
      }),

    tasks: defineTable({
      userId: v.string(),
      title: v.string(),
      description: v.optional(v.string()),
      status: taskStatus,
      priority: v.optional(
        v.union(v.literal("low"), v.literal("medium"), v.literal("high")),
      ),
      dueAt: v.optional(v.number()),
      completedAt: v.optional(v.number()),
      projectId: v.optional(v.id("projects")),
      conversationId: v.optional(v.id("conversations")),
      createdAt: v.number(),
      updatedAt: v.number(),
    })
      .index("by_user_and_status", ["userId", "status", "updatedAt"])
      .index("by_user_and_due", ["userId", "dueAt"])
      .index("by_project", ["projectId", "status"])
      .index("by_conversation", ["conversationId"])
      .searchIndex("search_title", {
        searchField: "title",
        filterFields: ["userId", "status", "projectId"],
      }),

    bookmarks: defineTable({
      userId: v.string(),
      kind: v.union(
        v.literal("message"),
        v.literal("conversation"),
        v.literal("note"),
        v.literal("url"),
      ),
      title: v.string(),
      url: v.optional(v.string()),
      conversationId: v.optional(v.id("conversations")),
      messageId: v.optional(v.id("messages")),
      noteId: v.optional(v.id("notes")),
      comment: v.optional(v.string()),
      tags: v.array(v.string()),
      createdAt: v.number(),
    })
      .index("by_user_and_created", ["userId", "createdAt"])
      .index("by_user_and_kind", ["userId", "kind", "createdAt"])
      .index("by_message", ["messageId"])
      .index("by_conversation", ["conversationId"])
      .searchIndex("search_title", {
        searchField: "title",
        filterFields: ["userId", "kind"],
      }),

    usageRecords: defineTable({
      userId: v.string(),
      kind: v.union(
        v.literal("chat"),
        v.literal("embedding"),
        v.literal("image"),
        v.literal("tool"),
      ),
      model: v.string(),
      provider: v.optional(v.string()),
      conversationId: v.optional(v.id("conversations")),
      messageId: v.optional(v.id("messages")),
      inputTokens: v.number(),
      outputTokens: v.number(),
      costMicroUsd: v.optional(v.number()),
      day: v.string(),
      createdAt: v.number(),
    })
      .index("by_user_and_created", ["userId", "createdAt"])
      .index("by_user_and_day", ["userId", "day"])
      .index("by_user_and_model", ["userId", "model", "createdAt"])
      .index("by_conversation", ["conversationId", "createdAt"]),
  },
  { schemaValidation: true },
);
