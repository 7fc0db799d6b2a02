/** Who is speaking: a platform user, mapped by config to a person and roles (or to nobody). */
export interface Principal {
  platform: string;
  userId: string;
  /** person id from config, or null for someone the config does not know */
  person: string | null;
  /** the person's name from config, else what the platform calls them, else the user id */
  displayName: string;
  roles: readonly string[];
}

/** Where they are speaking. */
export interface Channel {
  platform: string;
  channelId: string;
  threadId?: string;
}
