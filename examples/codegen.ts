// GraphQL Code Generator: typed documents for every operation in the examples, from the hub's committed SDL
// (`schema/schema.graphql`; `omniman schema export` writes it, or point `schema` at a running hub's /graphql).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema/schema.graphql",
  documents: ["src/**/*.ts", "apollo/**/*.ts", "urql/**/*.ts", "!src/gql/**"],
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // The hub's custom scalars travel as JSON strings (Decimal, DateTime) or any JSON value: say so, so `tsc`
        // catches a quantity used as a number.
        scalars: { Decimal: "string", DateTime: "string", JSON: "unknown" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
