import type { ComponentType } from "react";
import type { Permission } from "../api/types";
import { actionsModule } from "../views/Actions";
import { credentialsModule } from "../views/Credentials";
import { haltsModule } from "../views/Halts";
import { inboxModule } from "../views/Inbox";
import { policyModule } from "../views/Policy";
import { runsModule } from "../views/Runs";
import { tradingModule } from "../views/Trading";

// One view of the console. A new capability (policy, trading, runs and handoff)
// adds one module file under views/ and one line below; the shell, navigation
// and role filtering need no change.
export interface ConsoleModule {
  id: string; // the URL fragment: #/<id>
  title: string;
  // The permission the view's data needs; without it the view is not offered
  // (the API refuses it anyway).
  permission: Permission;
  View: ComponentType;
}

export const MODULES: readonly ConsoleModule[] = [inboxModule, actionsModule, haltsModule, credentialsModule, policyModule, tradingModule, runsModule];
