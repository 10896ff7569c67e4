import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  documents: defineTable({
    title: v.string(),
    body: v.string(),
    author: v.string(),
    category: v.string(),
    embedding: v.array(v.float64()),
  })
    .index("by_author", ["author"])
    .searchIndex("search_body", { searchField: "body", filterFields: ["author", "category"] })
    .vectorIndex("by_embedding", { vectorField: "embedding", dimensions: 1536, filterFields: ["category"] }),
});
