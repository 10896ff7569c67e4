import { v } from "convex/values";
import { query } from "./_generated/server";
import { SCHEMA_VERSION } from "./version";

/**
 * Health check used by the deployer after every deploy: it answers the schema
 * version of the package the deployment runs. It never reads the database, so
 * it works on an empty deployment and costs no database bandwidth.
 */
export const ping = query({
  args: {},
  returns: v.object({ status: v.literal("ok"), version: v.number() }),
  handler: async () => {
    return { status: "ok" as const, version: SCHEMA_VERSION };
  },
});
