import test from "ava";
import { resolveAddress, selectsNode, templatePattern } from "../../../src/reconciler/healing/template.js";

const T = 'module.workers.aws_instance.worker["${meta.terraform_key}"]';
const node = { id: "n1", name: "workers-a", nodeClass: "batch", nodePool: "default", meta: { terraform_key: "a", steward_pool: "workers" } };

test("template_resolves_node_meta", (t) => {
  t.deepEqual(resolveAddress(T, node), { address: 'module.workers.aws_instance.worker["a"]' });
});

test("template_names_the_missing_reference", (t) => {
  t.deepEqual(resolveAddress(T, { ...node, meta: {} }), { missing: "meta.terraform_key" });
});

test("template_resolves_node_fields", (t) => {
  t.deepEqual(resolveAddress('aws_instance.s["${node.name}-${node.class}"]', node), { address: 'aws_instance.s["workers-a-batch"]' });
});

test("template_pattern_matches_every_key_and_nothing_else", (t) => {
  const p = templatePattern(T);
  t.true(p.test('module.workers.aws_instance.worker["b"]'));
  t.true(p.test('module.workers.aws_instance.worker["w-12"]'));
  t.false(p.test('module.workers.aws_instance.worker["a"].extra'));
  t.false(p.test('module.other.aws_instance.worker["a"]'));
  t.false(p.test("module.workers.aws_instance.worker"));
});

test("select_needs_every_field_set", (t) => {
  t.true(selectsNode({ meta: { steward_pool: "workers" } }, node));
  t.true(selectsNode({ nodePool: "default", nodeClass: "batch" }, node));
  t.false(selectsNode({ nodePool: "default", meta: { steward_pool: "servers" } }, node));
});
