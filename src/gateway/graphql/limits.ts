// Limits on what one GraphQL request may ask, checked while the query is validated (before
// anything runs), so a costly query is refused with a 400 rather than answered slowly:
//
// - depth: fields nested inside fields, at most `maxDepth` (the category tree, 9 levels deep
//   at most, fits with room to spare). Introspection types do not count here; they have their
//   own bound below.
// - size: field selections in the operation, with every fragment spread expanded, at most
//   `maxFields` (aliases cannot multiply work past it).
// - introspection: allowed (the schema is published anyway), but lists nested in lists inside
//   it (types → fields → args) at most `maxIntrospectionLists` deep: what the standard
//   introspection query of GraphiQL and code generators needs, and no more, so
//   `__schema { types { fields { type { fields { type { fields … } } } } } }` is refused.
//
// Each fragment is measured once and its figures reused, so a document that spreads fragments
// into fragments costs linear time to check, however large its expansion would be.
import type { GraphQLCompositeType, GraphQLField, GraphQLSchema, SelectionSetNode, ValidationContext, ValidationRule } from 'graphql';
import { graphqlJs } from './graphql-js.js';

const { GraphQLError, getNamedType, getNullableType, isCompositeType, isIntrospectionType, isListType, isObjectType, isInterfaceType, SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef } = graphqlJs;

export interface QueryLimits {
  maxDepth: number;
  maxFields: number;
  maxIntrospectionLists: number;
  /** Tokens in the query text; the parser stops past it. */
  maxTokens: number;
}

export const QUERY_LIMITS: QueryLimits = { maxDepth: 12, maxFields: 500, maxIntrospectionLists: 3, maxTokens: 5_000 };

interface Measure {
  /** Levels of schema (non-introspection) fields. */
  depth: number;
  /** Introspection lists nested in one another. */
  lists: number;
  fields: number;
}

const NOTHING: Measure = { depth: 0, lists: 0, fields: 0 };

function fieldDef(schema: GraphQLSchema, parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  if (name === '__typename') return TypeNameMetaFieldDef;
  if (parent === schema.getQueryType()) {
    if (name === '__schema') return SchemaMetaFieldDef;
    if (name === '__type') return TypeMetaFieldDef;
  }
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

function measurer(context: ValidationContext) {
  const schema = context.getSchema();
  const fragments = new Map<string, Measure>();
  const measuring = new Set<string>();

  const selectionSet = (set: SelectionSetNode, parent: GraphQLCompositeType): Measure => {
    let depth = 0;
    let lists = 0;
    let fields = 0;
    for (const selection of set.selections) {
      let inner: Measure;
      if (selection.kind === 'Field') {
        inner = field(selection.name.value, selection.selectionSet, parent);
      } else if (selection.kind === 'InlineFragment') {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        inner = on && isCompositeType(on) ? selectionSet(selection.selectionSet, on) : NOTHING;
      } else {
        inner = fragment(selection.name.value);
      }
      depth = Math.max(depth, inner.depth);
      lists = Math.max(lists, inner.lists);
      fields += inner.fields;
    }
    return { depth, lists, fields };
  };

  const field = (name: string, set: SelectionSetNode | undefined, parent: GraphQLCompositeType): Measure => {
    const def = fieldDef(schema, parent, name);
    if (!def) return { ...NOTHING, fields: 1 }; // unknown: the specified rules report it
    const named = getNamedType(def.type);
    const inner = set && isCompositeType(named) ? selectionSet(set, named) : NOTHING;
    // Fields of introspection types, and the meta fields (__schema, __type, __typename).
    const introspection = isIntrospectionType(parent) || name.startsWith('__');
    return {
      depth: introspection ? inner.depth : inner.depth + 1,
      lists: inner.lists + (introspection && isListType(getNullableType(def.type)) ? 1 : 0),
      fields: inner.fields + 1,
    };
  };

  const fragment = (name: string): Measure => {
    const known = fragments.get(name);
    if (known) return known;
    const node = context.getFragment(name);
    if (!node || measuring.has(name)) return NOTHING; // missing or cyclic: the specified rules report it
    const on = schema.getType(node.typeCondition.name.value);
    measuring.add(name);
    const measure = on && isCompositeType(on) ? selectionSet(node.selectionSet, on) : NOTHING;
    measuring.delete(name);
    fragments.set(name, measure);
    return measure;
  };

  return selectionSet;
}

/** A validation rule enforcing `limits` on every operation of a document. */
export function queryLimitsRule(limits: QueryLimits = QUERY_LIMITS): ValidationRule {
  return (context: ValidationContext) => {
    const measure = measurer(context);
    return {
      OperationDefinition(node) {
        const schema = context.getSchema();
        const root = node.operation === 'query' ? schema.getQueryType() : node.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
        if (!root) return; // the specified rules report it
        const m = measure(node.selectionSet, root);
        const name = node.name ? `operation ${node.name.value}` : 'the operation';
        if (m.depth > limits.maxDepth) {
          context.reportError(new GraphQLError(`${name} nests fields ${m.depth} levels deep; at most ${limits.maxDepth} are allowed`, { nodes: [node], extensions: { limit: 'depth' } }));
        }
        if (m.fields > limits.maxFields) {
          context.reportError(new GraphQLError(`${name} selects ${m.fields} fields (fragments expanded); at most ${limits.maxFields} are allowed`, { nodes: [node], extensions: { limit: 'fields' } }));
        }
        if (m.lists > limits.maxIntrospectionLists) {
          context.reportError(
            new GraphQLError(`${name} nests introspection lists ${m.lists} deep; at most ${limits.maxIntrospectionLists} are allowed (the standard introspection query needs 3)`, { nodes: [node], extensions: { limit: 'introspection' } }),
          );
        }
      },
    };
  };
}
