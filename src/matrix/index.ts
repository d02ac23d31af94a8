export * from './matrix.js'
export * from './render.js'
