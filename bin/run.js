#!/usr/bin/env node
// Entry point of the kcompat CLI (oclif). Commands live in dist/commands, built by `npm run build`.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
