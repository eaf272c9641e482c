// The SDK publishes the model's types written out (packages/sdk/src/types.ts), so that its
// declarations stand alone once installed. The typecheck fails here the moment they differ.
import { expectTypeOf, it } from 'vitest'
import type {
  Clause,
  Context,
  Effective,
  EvaluationResult,
  Explanation,
  Flag,
  FlagState,
  Ramp,
  Guard,
  GuardPause,
  Reason,
  Rule,
  Schedule,
  ScheduleStep,
  Serve,
  SplitShare,
  Stickiness,
  Variant,
} from '../../packages/sdk/src/types.js'
import type * as Model from '../../packages/core/src/flags/schema.js'

it("the SDK's public types are exactly the model's", () => {
  expectTypeOf<Flag>().toEqualTypeOf<Model.Flag>()
  expectTypeOf<Context>().toEqualTypeOf<Model.EvaluationContext>()
  expectTypeOf<EvaluationResult>().toEqualTypeOf<Model.EvaluationResult>()
  expectTypeOf<FlagState>().toEqualTypeOf<Model.FlagState>()
  expectTypeOf<Stickiness>().toEqualTypeOf<Model.Stickiness>()
  expectTypeOf<Reason>().toEqualTypeOf<Model.Reason>()
  expectTypeOf<Rule>().toEqualTypeOf<Model.Rule>()
  expectTypeOf<Clause>().toEqualTypeOf<Model.Clause>()
  expectTypeOf<Serve>().toEqualTypeOf<Model.Serve>()
  expectTypeOf<Explanation>().toEqualTypeOf<Model.Explanation>()
  expectTypeOf<Variant>().toEqualTypeOf<Model.Variant>()
  expectTypeOf<SplitShare>().toEqualTypeOf<Model.SplitShare>()
  expectTypeOf<Schedule>().toEqualTypeOf<Model.Schedule>()
  expectTypeOf<ScheduleStep>().toEqualTypeOf<Model.ScheduleStep>()
  expectTypeOf<Ramp>().toEqualTypeOf<Model.Ramp>()
  expectTypeOf<Guard>().toEqualTypeOf<Model.Guard>()
  expectTypeOf<GuardPause>().toEqualTypeOf<Model.GuardPause>()
  expectTypeOf<Effective>().toEqualTypeOf<Model.Effective>()
})
