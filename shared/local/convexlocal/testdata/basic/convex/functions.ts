import { query, internalQuery, mutation } from "./_generated/server";
import { v } from "convex/values";

export const ping = query({
  args: {},
  returns: v.string(),
  handler: async () => "pong",
});

export const info = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => ({ hello: name, version: 1 }),
});

export const greet = query({
  args: { name: v.string() },
  handler: async (_ctx, { name }) => {
    console.log("greeting", name);
    return `hi ${name}`;
  },
});

export const secret = internalQuery({
  args: {},
  handler: async () => "internal",
});

export const count = query({
  args: {},
  handler: async (ctx) => (await ctx.db.query("documents").collect()).length,
});

export const touch = mutation({
  args: {},
  handler: async () => null,
});
