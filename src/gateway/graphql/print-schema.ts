// Prints the GraphQL schema as /graphql/schema.graphql serves it. After changing the schema:
//   npx tsx src/gateway/graphql/print-schema.ts > docs/schema.graphql
import { schemaText } from './schema.js';

process.stdout.write(schemaText());
