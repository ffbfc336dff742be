// The signed-in token's role, for views that show more to the admin (the actions).
import { createContext } from 'preact';
import type { Role } from './types.js';

export const RoleContext = createContext<Role | null>(null);
