// Vite bundles the imported stylesheet; for the type checker it is a plain side-effect module.
declare module "*.css";
