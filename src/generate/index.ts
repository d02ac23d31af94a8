/** BTF generation from DWARF with pahole: see generate.ts. */
export {GenerateError, MIN_PAHOLE, findPahole, parsePaholeVersion, paholeNumber, versionString, type Pahole, type PaholeVersion} from './pahole.js'
export {paholeFlags, parseMajorMinor, describeInvocation, type FlagChoice, type FlagTarget} from './flags.js'
export {probeElf, type ElfProbe} from './elf-probe.js'
export {runPahole, shellQuote, type PaholeProgress, type PaholeRun} from './run.js'
export {generateBtf, type GenerateOptions, type GenerateResult} from './generate.js'
