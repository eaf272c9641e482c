#!/usr/bin/env node
// The installed flagctl command: the compiled program (`npm run build` writes dist/). This file
// exists before the build, so npm links the command at install time.
import '../dist/flagctl.js'
